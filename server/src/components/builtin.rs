//! The built-in steps that need nothing but the standard library. `trellis
//! step` runs them, and so does `trellis-launch` (see [`crate::launch`])
//! without starting the whole `trellis` binary for them.

use super::StepError;
use std::time::Duration;

/// `trellis step noop`: succeeds at once.
pub fn noop() -> Result<(), StepError> {
    println!("noop: nothing to do");
    Ok(())
}

/// `trellis step sleep --seconds=<n>`: waits, then succeeds.
pub fn sleep(seconds: f64) -> Result<(), StepError> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(StepError::Usage(format!(
            "sleep: --seconds must be a non-negative number, got {seconds}"
        )));
    }
    println!("sleep: waiting {seconds} s");
    std::thread::sleep(Duration::from_secs_f64(seconds));
    println!("sleep: done");
    Ok(())
}

/// `trellis step fail --message=<text>`: fails with the message.
pub fn fail(message: String) -> Result<(), StepError> {
    Err(StepError::Failed(message))
}
