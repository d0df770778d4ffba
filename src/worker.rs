//! `zoo worker`: this machine's devices hosted for another machine's zoo, through Burn's remote
//! backend (`burn::server::RemoteServer`). A laptop then trains with `--device remote:ADDR`:
//! the model, the data and the run folder stay on the laptop, every tensor operation runs here.
//!
//! Iroh (authenticated, encrypted, reaches a machine behind NAT through relays) by default;
//! WebSocket (`--websocket`, unencrypted) for a trusted network. Either way a client must
//! present the worker's token, read from a file or the environment, never from the command
//! line, where every user of the machine can read it (`ps`).

use std::path::{Path, PathBuf};

use zoo_train::{Result, ZooError};

use crate::cli::WorkerArgs;

/// The variable holding the token, on both sides.
pub const TOKEN_VARIABLE: &str = "ZOO_WORKER_TOKEN";
/// The variable naming a file that holds the token, on both sides.
pub const TOKEN_FILE_VARIABLE: &str = "ZOO_WORKER_TOKEN_FILE";

/// The token: `file` (the worker's `--token-file`), else `$ZOO_WORKER_TOKEN_FILE`'s file, else
/// `$ZOO_WORKER_TOKEN`; surrounding whitespace (a file's last newline) is not part of it.
pub fn token(file: Option<&Path>) -> Result<String> {
    let file = file.map(Path::to_path_buf).or_else(|| std::env::var_os(TOKEN_FILE_VARIABLE).map(PathBuf::from));
    let (token, from) = match file {
        Some(file) => {
            let text = std::fs::read_to_string(&file).map_err(|e| {
                ZooError::usage(format!(
                    "{}: cannot read the worker token ({e}); give a file holding it",
                    file.display()
                ))
            })?;
            (text, file.display().to_string())
        }
        None => match std::env::var(TOKEN_VARIABLE) {
            Ok(token) => (token, format!("${TOKEN_VARIABLE}")),
            Err(_) => {
                return Err(ZooError::usage(format!(
                    "no worker token: set {TOKEN_VARIABLE} or {TOKEN_FILE_VARIABLE} (the same on the worker and the trainer; e.g. `openssl rand -hex 16 > token`)"
                )));
            }
        },
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err(ZooError::usage(format!("{from}: the worker token is empty; put a secret in it")));
    }
    Ok(token)
}

#[cfg(feature = "remote")]
pub fn worker(args: WorkerArgs) -> Result<()> {
    use burn::server::{IrohIdentity, IrohRelays, IrohTransport, RemoteServer, TokenAuthorizer, WebSocketTransport};

    let token = token(args.token_file.as_deref())?;
    let hosted = match (&args.devices, &args.device.device) {
        (Some(list), _) => crate::device::select_list(list)?,
        (None, Some(name)) => vec![(crate::device::select(name)?, name.clone())],
        (None, None) => {
            let (device, name) = crate::device::select_default()?;
            vec![(device, name)]
        }
    };
    let described: Vec<String> = hosted
        .iter()
        .enumerate()
        .map(|(index, (device, name))| format!("#{index} {}", crate::device::describe(name, device)))
        .collect();
    let devices: Vec<burn::prelude::Device> = hosted.into_iter().map(|(device, _)| device).collect();
    let server = RemoteServer::new(devices)
        .with_authorizer(TokenAuthorizer::new(token).map_err(|_| ZooError::usage("the worker token is empty"))?);
    let listen: std::net::SocketAddr = args.listen.parse().map_err(|_| {
        ZooError::usage(format!("--listen {}: give an address and port, such as 0.0.0.0:7878", args.listen))
    })?;

    let served = if args.websocket {
        let listener = std::net::TcpListener::bind(listen)
            .map_err(|e| ZooError::usage(format!("--listen {listen}: cannot listen there ({e}); pick another port")))?;
        let bound = listener.local_addr().map_err(|e| ZooError::runtime(e.to_string()))?;
        println!("zoo worker: hosting {}", described.join(", "));
        println!("listening on ws://{bound} (WebSocket: unencrypted, for a trusted network)");
        println!("train on it: zoo train MODEL --device remote:ws://{}:{}", reachable_host(bound), bound.port());
        server.serve(WebSocketTransport::from_listener(listener))
    } else {
        let relays: IrohRelays = args.relays.parse().map_err(|e| ZooError::usage(format!("--relays: {e}")))?;
        let identity_file =
            args.identity.clone().unwrap_or_else(|| zoo_data::fetch::default_cache_dir().join("worker.key"));
        if let Some(parent) = identity_file.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                ZooError::usage(format!("{}: cannot create the folder ({e}); give --identity FILE", parent.display()))
            })?;
        }
        let identity = IrohIdentity::load_or_create(&identity_file).map_err(|e| {
            ZooError::usage(format!(
                "{}: cannot read or write the worker's key ({e}); give --identity FILE",
                identity_file.display()
            ))
        })?;
        let transport = IrohTransport::new(identity).with_relays(relays.clone()).with_port(listen.port());
        let id = transport.id();
        println!("zoo worker: hosting {}", described.join(", "));
        println!("Iroh id {id} (key {}), port {}", identity_file.display(), listen.port());
        match relays {
            IrohRelays::Disabled => println!(
                "train on it: zoo train MODEL --device remote:{id}@{}:{}",
                reachable_host(listen),
                listen.port()
            ),
            _ => println!("train on it: zoo train MODEL --device remote:{id} (found through the relays)"),
        }
        server.serve(transport)
    };
    served.map_err(|e| ZooError::runtime(format!("zoo worker stopped: {e}")))
}

/// The host a client dials for a worker listening on `address`: itself, unless it listens on
/// every interface (then this machine's name stands for it).
#[cfg(feature = "remote")]
fn reachable_host(address: std::net::SocketAddr) -> String {
    if address.ip().is_unspecified() {
        std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "THIS_MACHINE".to_string())
    } else {
        address.ip().to_string()
    }
}

#[cfg(not(feature = "remote"))]
pub fn worker(_args: WorkerArgs) -> Result<()> {
    Err(ZooError::usage(
        "zoo worker needs Burn's remote backend, which this binary was built without; build with `cargo build --release --features remote` (plus the backend it hosts, e.g. cuda)",
    ))
}
