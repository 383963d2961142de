//! `trellis-launch`: starts a task's program under its limits (see
//! `server::launch`).

fn main() -> std::process::ExitCode {
    server::launch::main()
}
