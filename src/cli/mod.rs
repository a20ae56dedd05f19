//! The command line: the flags in `args`, resolved into a `Context`, one file per resource
//! below (the path mirrors the command: `catops items list` lives in `cli/items.rs`), and here
//! the dispatch and the runtimes.

pub mod api;
mod args;
pub mod assets;
pub mod bulk;
pub mod catalogs;
pub mod completions;
mod confirm;
mod context;
pub mod delta;
pub mod enrich;
mod global;
pub mod items;
pub mod paging;
pub mod parse;
pub mod profile;
#[cfg(feature = "sandbox")]
pub mod sandbox;

pub use args::{Cli, Command};
pub use context::Context;

use std::future::Future;

use crate::error::exit;

/// Answers a shell's completion request and exits, if this run is one.
pub fn complete_if_asked() {
    completions::complete_if_asked(<Cli as clap::CommandFactory>::command);
}

/// Runs the parsed command and returns its exit code.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Profile(command) => profile::run(command, &Context::new(&cli.global)?),
        Command::Completions { shell } => completions::print(shell),
        Command::GenerateDocs { out } => {
            completions::generate_docs(<Cli as clap::CommandFactory>::command(), &out)
        }
        #[cfg(feature = "sandbox")]
        Command::Sandbox(command) => sandbox::run(command, cli.global.quiet),
        Command::Catalogs(command) => {
            let ctx = Context::new(&cli.global)?;
            until_interrupted(catalogs::run(command, &ctx))
        }
        Command::Items(command) => {
            let ctx = Context::new(&cli.global)?;
            until_interrupted(items::run(command, &ctx))
        }
        // A bulk run stops on a signal by itself: it lets the requests in flight answer and
        // prints where every row is.
        Command::Bulk(command) => {
            let ctx = Context::new(&cli.global)?;
            with_signals(bulk::run(command, &ctx))
        }
        Command::Assets(command) => {
            let ctx = Context::new(&cli.global)?;
            with_signals(assets::run(command, &ctx))
        }
        Command::Enrich(command) => {
            let ctx = Context::new(&cli.global)?;
            until_interrupted(enrich::run(command, &ctx))
        }
        Command::Delta(command) => {
            let ctx = Context::new(&cli.global)?;
            until_interrupted(delta::run(command, &ctx))
        }
        Command::Api(args) => {
            let ctx = Context::new(&cli.global)?;
            until_interrupted(api::run(args, &ctx))
        }
    }
}

/// Runs `command`, which watches for signals itself, with Ctrl-C, SIGTERM and SIGHUP heard.
fn with_signals(command: impl Future<Output = anyhow::Result<u8>>) -> anyhow::Result<u8> {
    runtime()?.block_on(async {
        crate::interrupt::listen();
        command.await
    })
}

/// Runs `command` until it ends or a signal comes: then "interrupted", exit 130. A command
/// that answers the signal itself (`enrich --wait` prints the cancel command) is polled first,
/// so it gets to.
fn until_interrupted(command: impl Future<Output = anyhow::Result<u8>>) -> anyhow::Result<u8> {
    runtime()?.block_on(async {
        crate::interrupt::listen();
        tokio::select! {
            biased;
            result = command => result,
            () = crate::interrupt::interrupted() => {
                eprintln!("interrupted");
                Ok(exit::INTERRUPTED)
            }
        }
    })
}

/// Built only by commands that do I/O, so `--help`, `--version` and `profile` stay instant.
/// One thread: a client waits on the network, and cross-thread wakeups cost more CPU than
/// they save (bulk reads its input on a thread of its own; the sandbox's database work runs
/// on blocking threads).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    build_runtime(tokio::runtime::Builder::new_current_thread())
}

/// `sandbox serve` answers many clients at once: a thread per core.
#[cfg(feature = "sandbox")]
pub fn server_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    build_runtime(tokio::runtime::Builder::new_multi_thread())
}

fn build_runtime(mut builder: tokio::runtime::Builder) -> anyhow::Result<tokio::runtime::Runtime> {
    builder
        .enable_all()
        .build()
        .map_err(|err| anyhow::anyhow!("cannot start the async runtime: {err}"))
}
