//! A task's log: the child's stdout and stderr interleaved into one file, cut
//! off with a marker once it reaches its size limit (the pipes keep being
//! drained so the child never blocks), and the tail of stderr kept for the
//! task's error message.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use tokio::fs::File;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;

/// How many stderr lines a failed task reports as its error.
pub const ERROR_LINES: usize = 10;

pub struct LogFile {
    file: File,
    written: u64,
    limit: u64,
    truncated: bool,
    /// Wakes the log's followers after each write.
    signal: Option<crate::events::LogSignal>,
}

impl LogFile {
    pub async fn create(path: &Path, limit: u64) -> std::io::Result<Arc<Mutex<LogFile>>> {
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let file = File::create(path).await?;
        Ok(Arc::new(Mutex::new(LogFile {
            file,
            written: 0,
            limit,
            truncated: false,
            signal: None,
        })))
    }

    /// Wakes `signal`'s followers after each write.
    pub fn signal_to(&mut self, signal: crate::events::LogSignal) {
        self.signal = Some(signal);
    }

    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.truncated {
            return Ok(());
        }
        let room = self.limit.saturating_sub(self.written) as usize;
        if bytes.len() <= room {
            self.file.write_all(bytes).await?;
            self.written += bytes.len() as u64;
        } else {
            self.file.write_all(&bytes[..room]).await?;
            let marker = format!(
                "\n[trellis: log truncated at {} bytes; further output discarded]\n",
                self.limit
            );
            self.file.write_all(marker.as_bytes()).await?;
            self.written = self.limit;
            self.truncated = true;
        }
        self.file.flush().await?;
        if let Some(signal) = &self.signal {
            signal.grew();
        }
        Ok(())
    }
}

/// Copies `stream` into `log` until it ends; with `tail`, also keeps the last
/// `ERROR_LINES` lines of it.
pub async fn pump(
    mut stream: impl AsyncRead + Unpin,
    log: Arc<Mutex<LogFile>>,
    mut tail: Option<&mut VecDeque<String>>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut partial = String::new();
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        log.lock().await.write(&buf[..n]).await?;
        if let Some(tail) = tail.as_deref_mut() {
            partial.push_str(&String::from_utf8_lossy(&buf[..n]));
            while let Some(end) = partial.find('\n') {
                push_line(tail, partial[..end].to_owned());
                partial.drain(..=end);
            }
            if partial.len() > 4096 {
                push_line(tail, std::mem::take(&mut partial));
            }
        }
    }
    if let Some(tail) = tail {
        if !partial.is_empty() {
            push_line(tail, partial);
        }
    }
    Ok(())
}

fn push_line(tail: &mut VecDeque<String>, line: String) {
    if line.trim().is_empty() {
        return;
    }
    if tail.len() == ERROR_LINES {
        tail.pop_front();
    }
    tail.push_back(line);
}
