//! Reading a profile's token: from the environment, the config file, or `token_cmd`.

use std::process::Stdio;
use std::time::Duration;

use crate::error::{one_line, usage, Failure};
use crate::secret::Secret;

use super::{Selected, TokenSource, TOKEN_ENV};

/// Reads the token by SPEC §2's precedence: `$CATOPS_TOKEN` > `token_env` > `token_cmd` > `token`.
/// A `token_cmd` gets `timeout` to print it.
pub async fn resolve_token(selected: &Selected, timeout: Duration) -> anyhow::Result<Secret> {
    let env = |var: &str| std::env::var(var).ok().filter(|value| !value.is_empty());
    let profile = &selected.profile;
    match profile.token_source(&env) {
        TokenSource::Env(var) => Ok(Secret::new(env(&var).unwrap_or_default())),
        TokenSource::Command(cmd) => run_token_cmd(&selected.name, &cmd, timeout).await,
        TokenSource::ConfigFile => Ok(Secret::new(profile.token.clone().unwrap_or_default())),
        TokenSource::UnsetEnv(var) => Err(Failure::usage(format!(
            "profile '{}' reads its token from ${var}, which is not set",
            selected.name
        ))
        .into()),
        TokenSource::None => Err(Failure::usage(format!(
            "profile '{}' has no token: set token_env, token_cmd or token, or ${TOKEN_ENV}",
            selected.name
        ))
        .into()),
    }
}

/// Runs `token_cmd` in a process group of its own, so that a command that hangs (a password
/// manager waiting for a prompt, say) is killed whole, its children too, when it runs past
/// `timeout` or catops stops first; nothing is left behind.
async fn run_token_cmd(profile: &str, cmd: &str, timeout: Duration) -> anyhow::Result<Secret> {
    let mut command = tokio::process::Command::new("sh");
    command
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    let child = command.spawn().map_err(|err| {
        Failure::usage(format!("profile '{profile}': cannot run token_cmd: {err}"))
    })?;
    let mut group = ProcessGroup(child.id());
    let output = tokio::select! {
        output = child.wait_with_output() => output.map_err(|err| {
            Failure::usage(format!("profile '{profile}': token_cmd: {err}"))
        })?,
        () = tokio::time::sleep(timeout) => {
            return Err(Failure::usage(format!(
                "profile '{profile}': token_cmd printed no token within {} s, so it was stopped",
                timeout.as_secs_f64()
            ))
            .hint("check that the command runs without a prompt; --timeout gives it longer")
            .into());
        }
    };
    group.0 = None;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return usage(format!(
            "profile '{profile}': token_cmd failed ({}): {}",
            output.status,
            one_line(stderr.trim())
        ));
    }
    let token = String::from_utf8(output.stdout)
        .map_err(|_| Failure::usage(format!("profile '{profile}': token_cmd printed non-UTF-8")))?;
    let token = token.trim();
    if token.is_empty() {
        return usage(format!("profile '{profile}': token_cmd printed nothing"));
    }
    Ok(Secret::new(token.to_string()))
}

/// A running token_cmd's process group, killed when this is dropped before it finished.
struct ProcessGroup(Option<u32>);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(id) = self.0.and_then(|id| i32::try_from(id).ok()) {
            use nix::sys::signal::{killpg, Signal};
            let _ = killpg(nix::unistd::Pid::from_raw(id), Signal::SIGKILL);
        }
    }
}
