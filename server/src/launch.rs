//! `trellis-launch`: what the local executor starts a task's program
//! through. It sets the task's resource limits on itself, then execs the
//! program — as util-linux's `prlimit` does, with the same options
//! (`--as=<soft>:<hard>`, `--cpu=…`, `--core=…`, `--fsize=…`, `--nofile=…`,
//! `--nproc=…`, then `--` and the program with its arguments) — except for
//! the built-in steps that need only the standard library (`trellis step
//! noop`, `sleep`, `fail`), which it runs itself: starting the whole
//! `trellis` binary (over 100 MB, mostly the data components, with a
//! hundred thousand relocations to apply) costs several times the CPU such
//! a step needs, and a fan-out starts them by the thousand.
//!
//! It is a binary of its own (`src/bin/trellis-launch.rs`) that links only
//! this module and [`crate::components::builtin`], so it starts in a
//! fraction of the time.

use crate::components::{builtin, exit_code, StepError};
use nix::sys::resource::{setrlimit, Resource};
use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::ExitCode;

/// Exit code when the launcher was called wrongly or cannot set a limit or
/// start the program (as a shell says "cannot execute").
const CANNOT_START: u8 = 126;

pub fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let mut limits = Vec::new();
    for arg in args.by_ref() {
        if arg == "--" {
            break;
        }
        match limit(&arg) {
            Some(l) => limits.push(l),
            None => return refuse(&format!("unknown option {}", arg.to_string_lossy())),
        }
    }
    let Some(program) = args.next() else {
        return refuse("no program to start");
    };
    let rest: Vec<OsString> = args.collect();
    for (resource, soft, hard) in limits {
        if let Err(e) = setrlimit(resource, soft, hard) {
            return refuse(&format!("cannot set {resource:?}: {e}"));
        }
    }
    if let Some(result) = builtin_step(Path::new(&program), &rest) {
        return exit_code(result);
    }
    let error = std::process::Command::new(&program).args(&rest).exec();
    refuse(&format!(
        "cannot start {}: {error}",
        program.to_string_lossy()
    ))
}

fn refuse(message: &str) -> ExitCode {
    eprintln!("trellis-launch: {message}");
    ExitCode::from(CANNOT_START)
}

/// The limits a task can be given, by their option names (`prlimit`'s).
pub const LIMITS: [(Resource, &str); 6] = [
    (Resource::RLIMIT_AS, "as"),
    (Resource::RLIMIT_CORE, "core"),
    (Resource::RLIMIT_CPU, "cpu"),
    (Resource::RLIMIT_FSIZE, "fsize"),
    (Resource::RLIMIT_NOFILE, "nofile"),
    (Resource::RLIMIT_NPROC, "nproc"),
];

/// One limit option, as `prlimit` writes it: `--as=<soft>:<hard>`.
fn limit(arg: &OsStr) -> Option<(Resource, u64, u64)> {
    let (name, values) = arg.to_str()?.strip_prefix("--")?.split_once('=')?;
    let (resource, _) = LIMITS.into_iter().find(|(_, n)| *n == name)?;
    let (soft, hard) = values.split_once(':')?;
    Some((resource, soft.parse().ok()?, hard.parse().ok()?))
}

/// The built-in step `program args` asks for, run here, when `program` is
/// the `trellis` binary beside this one and the arguments are the exact
/// form the catalog renders (`step noop`, `step sleep --seconds=<n>`, `step
/// fail --message=<text>`); anything else is left to `trellis` itself.
fn builtin_step(program: &Path, args: &[OsString]) -> Option<Result<(), StepError>> {
    let beside = std::env::current_exe().ok()?.with_file_name("trellis");
    if program != beside {
        return None;
    }
    let args: Vec<&str> = args.iter().map(|a| a.to_str()).collect::<Option<_>>()?;
    match args.as_slice() {
        ["step", "noop"] => Some(builtin::noop()),
        ["step", "sleep", seconds] => {
            let seconds = seconds.strip_prefix("--seconds=")?.parse().ok()?;
            Some(builtin::sleep(seconds))
        }
        ["step", "fail", message] => {
            let message = message.strip_prefix("--message=")?;
            Some(builtin::fail(message.to_owned()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::limit;
    use nix::sys::resource::Resource;
    use std::ffi::OsStr;

    #[test]
    fn limits_are_read_as_prlimit_writes_them() {
        assert_eq!(
            limit(OsStr::new("--as=1024:2048")),
            Some((Resource::RLIMIT_AS, 1024, 2048))
        );
        assert_eq!(
            limit(OsStr::new("--nofile=64:64")),
            Some((Resource::RLIMIT_NOFILE, 64, 64))
        );
        for wrong in ["--as=1024", "--stack=1:2", "as=1:2", "--cpu=a:b", "--"] {
            assert_eq!(limit(OsStr::new(wrong)), None, "{wrong}");
        }
    }
}
