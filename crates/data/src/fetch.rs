//! Downloading MNIST (`zoo data fetch mnist`) into the user's cache.
//!
//! Each file is streamed into a hidden `.<name>.part` file next to its final place, hashed
//! while it is written, and renamed into place only once its SHA-256 matches, so the cache
//! never holds a half-written or unverified file under its real name, whatever fails.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

/// One file to download: its name on the mirrors and in the cache, and its SHA-256 (lowercase
/// hex, 64 characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    pub file_name: &'static str,
    pub sha256: &'static str,
}

/// The four MNIST files, with the digests of the files the public mirrors serve (the original
/// LeCun gzip files; see [`DEFAULT_MIRRORS`]).
pub const MNIST_FILES: [Resource; 4] = [
    Resource {
        file_name: "train-images-idx3-ubyte.gz",
        sha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    },
    Resource {
        file_name: "train-labels-idx1-ubyte.gz",
        sha256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    },
    Resource {
        file_name: "t10k-images-idx3-ubyte.gz",
        sha256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    },
    Resource {
        file_name: "t10k-labels-idx1-ubyte.gz",
        sha256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
];

/// Re-compressed copies of the MNIST files that hold the same IDX data in a different gzip
/// packaging (`gzip -9`, zero timestamp), as `(file name, sha256)`. Mirrors never serve these,
/// so they are only accepted for a file that is already in the cache; without this a user who
/// copied such a set into the cache would be sent back to the network for nothing.
pub const MNIST_REPACKED_DIGESTS: [(&str, &str); 4] = [
    ("train-images-idx3-ubyte.gz", "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971"),
    ("train-labels-idx1-ubyte.gz", "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203"),
    ("t10k-images-idx3-ubyte.gz", "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be"),
    ("t10k-labels-idx1-ubyte.gz", "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b"),
];

/// Base URLs of public MNIST mirrors, tried in order; a file's URL is base + file name.
pub const DEFAULT_MIRRORS: &[&str] =
    &["https://storage.googleapis.com/cvdf-datasets/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/"];

/// Longest wait to resolve and connect, and for the response head.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest silence allowed in the middle of a download.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes moved per read while streaming to disk.
const CHUNK_BYTES: usize = 64 * 1024;

/// [`DEFAULT_MIRRORS`] as owned strings, the form [`fetch`] takes.
pub fn default_mirrors() -> Vec<String> {
    DEFAULT_MIRRORS.iter().map(|url| url.to_string()).collect()
}

/// The cache root: `$ZOO_CACHE` if set, else `$XDG_CACHE_HOME/zoo`, else `$HOME/.cache/zoo`
/// (empty variables count as unset).
pub fn default_cache_dir() -> PathBuf {
    cache_dir_from(|key| std::env::var_os(key))
}

/// Where `zoo data fetch mnist` puts MNIST: `<cache>/mnist`.
pub fn mnist_cache_dir() -> PathBuf {
    default_cache_dir().join("mnist")
}

/// [`default_cache_dir`] with the environment passed in, so it can be tested without
/// mutating the process environment.
fn cache_dir_from(env: impl Fn(&str) -> Option<OsString>) -> PathBuf {
    let non_empty = |key: &str| env(key).filter(|value| !value.is_empty());
    if let Some(dir) = non_empty("ZOO_CACHE") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = non_empty("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("zoo");
    }
    match non_empty("HOME").or_else(|| non_empty("USERPROFILE")) {
        Some(home) => PathBuf::from(home).join(".cache").join("zoo"),
        // No home at all (a bare container): a cache beside the working directory.
        None => PathBuf::from(".cache").join("zoo"),
    }
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It was in the cache already with a known digest; nothing was downloaded.
    AlreadyPresent,
    /// It was downloaded from `url` and verified.
    Downloaded { url: String },
}

/// One file of a [`FetchReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedFile {
    pub file_name: &'static str,
    /// Final location, `<dest>/<file_name>`.
    pub path: PathBuf,
    /// Size on disk.
    pub bytes: u64,
    pub outcome: Outcome,
}

/// The result of [`fetch`], one entry per requested file, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchReport {
    pub dest: PathBuf,
    pub files: Vec<FetchedFile>,
}

impl FetchReport {
    /// How many files were actually downloaded (the rest were already present).
    pub fn downloaded(&self) -> usize {
        self.files.iter().filter(|file| matches!(file.outcome, Outcome::Downloaded { .. })).count()
    }
}

/// One line per file (no trailing newline), e.g.
/// `train-images-idx3-ubyte.gz    9912422 bytes  downloaded from URL`.
impl fmt::Display for FetchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, file) in self.files.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            let how = match &file.outcome {
                Outcome::AlreadyPresent => "already present".to_string(),
                Outcome::Downloaded { url } => format!("downloaded from {url}"),
            };
            write!(f, "{:<28} {:>9} bytes  {how}", file.file_name, file.bytes)?;
        }
        Ok(())
    }
}

/// Why a fetch failed. Each message is one line saying what to do.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(
        "could not reach any mirror for {file} (last error: {last_error}); download {needed} by hand and put them in {}, or pass --data DIR",
        .dest.display()
    )]
    Offline {
        file: String,
        dest: PathBuf,
        /// The names of all files requested, comma-separated, for the by-hand route.
        needed: String,
        /// `"<url>: <error>"` of the last mirror tried.
        last_error: String,
    },

    #[error(
        "{file}: downloaded file has sha256 {actual} but {expected} was expected; the mirror served a damaged or different file, run the command again later or download it by hand"
    )]
    Checksum { file: String, expected: String, actual: String },

    #[error("{}: {source}; check that the folder is writable and the disk has room", .path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// Makes sure each of `files` is in `dest` with its SHA-256, downloading the missing ones
/// from the first of `base_urls` that serves them. Network problems move on to the next
/// mirror; a wrong checksum does too, and is reported if no mirror serves the right file.
/// Disk errors stop at once. No `.part` file is left behind on any path.
pub fn fetch(base_urls: &[String], files: &[Resource], dest: &Path, progress: bool) -> Result<FetchReport, FetchError> {
    fetch_with_agent(&build_agent(true), base_urls, files, dest, progress)
}

/// An HTTP agent with bounded waits that treats 4xx/5xx as errors. `env_proxy` picks up
/// `HTTPS_PROXY` and friends; tests turn it off so loopback servers are reached directly.
fn build_agent(env_proxy: bool) -> ureq::Agent {
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(true)
        .timeout_resolve(Some(CONNECT_TIMEOUT))
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_recv_response(Some(CONNECT_TIMEOUT))
        .timeout_per_read(Some(READ_TIMEOUT))
        .user_agent(concat!("zoo/", env!("CARGO_PKG_VERSION")));
    if !env_proxy {
        config = config.proxy(None);
    }
    config.build().new_agent()
}

fn fetch_with_agent(
    agent: &ureq::Agent,
    base_urls: &[String],
    files: &[Resource],
    dest: &Path,
    progress: bool,
) -> Result<FetchReport, FetchError> {
    fs::create_dir_all(dest).map_err(|source| io_error(dest, source))?;
    let needed = files.iter().map(|file| file.file_name).collect::<Vec<_>>().join(", ");
    let mut report = FetchReport { dest: dest.to_path_buf(), files: Vec::with_capacity(files.len()) };
    for resource in files {
        report.files.push(fetch_one(agent, base_urls, resource, dest, progress, &needed)?);
    }
    Ok(report)
}

/// Why one download attempt from one mirror failed.
enum AttemptError {
    /// Connection, HTTP status, timeout or a broken body: try the next mirror.
    Network(String),
    /// The mirror answered with the wrong bytes: try the next mirror, report if none is right.
    Checksum(FetchError),
    /// The local disk failed: stop.
    Local(FetchError),
}

fn fetch_one(
    agent: &ureq::Agent,
    base_urls: &[String],
    resource: &Resource,
    dest: &Path,
    progress: bool,
    needed: &str,
) -> Result<FetchedFile, FetchError> {
    let final_path = dest.join(resource.file_name);
    let fetched = |bytes: u64, outcome: Outcome| FetchedFile {
        file_name: resource.file_name,
        path: final_path.clone(),
        bytes,
        outcome,
    };
    if let Some(bytes) = verified_size(&final_path, resource)? {
        return Ok(fetched(bytes, Outcome::AlreadyPresent));
    }

    let mut last_error = String::from("no mirror given");
    let mut checksum_error = None;
    for base in base_urls {
        let url = join_url(base, resource.file_name);
        match download(agent, &url, resource, &final_path, progress) {
            Ok(bytes) => return Ok(fetched(bytes, Outcome::Downloaded { url })),
            Err(AttemptError::Network(message)) => last_error = format!("{url}: {message}"),
            Err(AttemptError::Checksum(err)) => checksum_error = Some(err),
            Err(AttemptError::Local(err)) => return Err(err),
        }
    }
    Err(checksum_error.unwrap_or_else(|| FetchError::Offline {
        file: resource.file_name.to_string(),
        dest: dest.to_path_buf(),
        needed: needed.to_string(),
        last_error,
    }))
}

/// The size of `path` if it exists and its SHA-256 is one this resource is known by.
fn verified_size(path: &Path, resource: &Resource) -> Result<Option<u64>, FetchError> {
    if !path.is_file() {
        return Ok(None);
    }
    let (bytes, digest) = hash_file(path).map_err(|source| io_error(path, source))?;
    Ok(is_known_digest(resource, &digest).then_some(bytes))
}

fn is_known_digest(resource: &Resource, digest: &str) -> bool {
    digest.eq_ignore_ascii_case(resource.sha256)
        || MNIST_REPACKED_DIGESTS
            .iter()
            .any(|(name, sha)| *name == resource.file_name && digest.eq_ignore_ascii_case(sha))
}

/// `(size, sha256 hex)` of a file on disk.
fn hash_file(path: &Path) -> io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; CHUNK_BYTES];
    let mut total = 0u64;
    loop {
        let read = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        hasher.update(&buffer[..read]);
        total += read as u64;
    }
    Ok((total, to_hex(hasher.finalize().as_slice())))
}

/// SHA-256 of `bytes` as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(Sha256::digest(bytes).as_slice())
}

fn to_hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// `base` + `file_name`, with exactly one `/` between them.
fn join_url(base: &str, file_name: &str) -> String {
    format!("{}/{file_name}", base.trim_end_matches('/'))
}

/// `<dir>/.<name>.part`: hidden, and next to the final file so the rename stays on one
/// filesystem and is atomic.
fn part_path(final_path: &Path) -> PathBuf {
    let name = final_path.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
    final_path.with_file_name(format!(".{name}.part"))
}

/// Downloads `url` to `final_path` through a part file; returns the size.
fn download(
    agent: &ureq::Agent,
    url: &str,
    resource: &Resource,
    final_path: &Path,
    progress: bool,
) -> Result<u64, AttemptError> {
    // Ask for the bytes as stored: a transparently decompressed .gz would fail its checksum.
    let response = agent
        .get(url)
        .header("Accept-Encoding", "identity")
        .call()
        .map_err(|err| AttemptError::Network(err.to_string()))?;
    let body = response.into_body();
    let bar = progress_bar(progress, body.content_length(), resource.file_name);
    let mut reader = body.into_reader();

    let mut part = PartFile::create(part_path(final_path)).map_err(AttemptError::Local)?;
    let copied = copy_hashing(&mut reader, &mut part, &bar);
    bar.finish_and_clear();
    let (bytes, actual) = copied?;
    if !actual.eq_ignore_ascii_case(resource.sha256) {
        // `part` is dropped here, which deletes it.
        return Err(AttemptError::Checksum(FetchError::Checksum {
            file: resource.file_name.to_string(),
            expected: resource.sha256.to_string(),
            actual,
        }));
    }
    part.commit(final_path).map_err(AttemptError::Local)?;
    Ok(bytes)
}

/// Streams `reader` into `part`, hashing on the way; returns `(bytes, sha256 hex)`.
fn copy_hashing(reader: &mut impl Read, part: &mut PartFile, bar: &ProgressBar) -> Result<(u64, String), AttemptError> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; CHUNK_BYTES];
    let mut total = 0u64;
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read.min(buffer.len()),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(AttemptError::Network(err.to_string())),
        };
        let chunk = &buffer[..read];
        hasher.update(chunk);
        part.write_all(chunk).map_err(AttemptError::Local)?;
        total += read as u64;
        bar.inc(read as u64);
    }
    Ok((total, to_hex(hasher.finalize().as_slice())))
}

/// A bar with bytes, speed and ETA on stderr; hidden when not asked for or when stderr is not
/// a terminal (logs and pipes get no control characters).
fn progress_bar(show: bool, total: Option<u64>, name: &'static str) -> ProgressBar {
    if !show || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (bar, template) = match total {
        Some(len) => (ProgressBar::new(len), "{msg:28} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"),
        None => (ProgressBar::new_spinner(), "{spinner} {msg:28} {bytes} {bytes_per_sec}"),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(name);
    bar
}

/// A download in progress. Deleted on drop unless [`PartFile::commit`] renamed it into place,
/// so every early return and panic cleans up after itself.
struct PartFile {
    path: PathBuf,
    file: Option<File>,
    committed: bool,
}

impl PartFile {
    /// Creates (or truncates a stale) part file.
    fn create(path: PathBuf) -> Result<Self, FetchError> {
        let file = File::create(&path).map_err(|source| io_error(&path, source))?;
        Ok(Self { path, file: Some(file), committed: false })
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), FetchError> {
        let result = match self.file.as_mut() {
            Some(file) => file.write_all(bytes),
            None => Err(io::Error::other("part file already closed")),
        };
        result.map_err(|source| io_error(&self.path, source))
    }

    /// Flushes the data to disk, then renames the part file to `final_path` (atomic on one
    /// filesystem), so a crash leaves either the old state or the complete file.
    fn commit(mut self, final_path: &Path) -> Result<(), FetchError> {
        if let Some(file) = self.file.take() {
            file.sync_all().map_err(|source| io_error(&self.path, source))?;
        }
        fs::rename(&self.path, final_path).map_err(|source| io_error(final_path, source))?;
        self.committed = true;
        sync_parent_dir(final_path);
        Ok(())
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.committed {
            // Close before removing (required on Windows). Nothing useful to do on failure.
            self.file.take();
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Makes a rename into `path`'s folder durable where the platform allows syncing a directory
/// (a crash right after it cannot bring the old file back); best effort, since the file
/// itself is already complete and synced.
#[cfg(unix)]
pub fn sync_parent_dir(path: &Path) {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[cfg(not(unix))]
pub fn sync_parent_dir(_path: &Path) {}

fn io_error(path: &Path, source: io::Error) -> FetchError {
    FetchError::Io { path: path.to_path_buf(), source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::thread::{self, JoinHandle};
    use std::time::Instant;

    /// A loopback HTTP/1.1 server answering `GET <path>` from `routes` (404 otherwise). It
    /// serves at most `max_connections` and gives up after a few seconds, so a test that
    /// needs fewer connections never leaves it running.
    struct TestServer {
        base_url: String,
        handle: JoinHandle<usize>,
    }

    impl TestServer {
        fn start(routes: Vec<(&'static str, Vec<u8>)>, max_connections: usize) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
            let port = listener.local_addr().expect("local addr").port();
            listener.set_nonblocking(true).expect("non-blocking listener");
            let handle = thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(10);
                let mut served = 0;
                while served < max_connections && Instant::now() < deadline {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            answer(stream, &routes);
                            served += 1;
                        }
                        Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => break,
                    }
                }
                served
            });
            Self { base_url: format!("http://127.0.0.1:{port}/"), handle }
        }

        /// Waits for the server thread; returns how many connections it served.
        fn finish(self) -> usize {
            self.handle.join().expect("server thread")
        }
    }

    fn answer(mut stream: TcpStream, routes: &[(&'static str, Vec<u8>)]) {
        // Accepted sockets inherit non-blocking mode on some platforms.
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let Some(path) = request_path(&mut stream) else {
            return;
        };
        let (status, body) = match routes.iter().find(|(route, _)| *route == path) {
            Some((_, body)) => ("200 OK", body.as_slice()),
            None => ("404 Not Found", b"not found".as_slice()),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
        let _ = stream.flush();
    }

    /// Reads a request head and returns the path of its request line.
    fn request_path(stream: &mut TcpStream) -> Option<String> {
        let mut head = Vec::new();
        let mut buffer = [0u8; 1024];
        while !head.windows(4).any(|window| window == b"\r\n\r\n") {
            let read = stream.read(&mut buffer).ok()?;
            if read == 0 || head.len() > 64 * 1024 {
                return None;
            }
            head.extend_from_slice(&buffer[..read]);
        }
        let text = String::from_utf8_lossy(&head);
        let request_line = text.lines().next()?;
        request_line.split_whitespace().nth(1).map(str::to_string)
    }

    /// A port on which nothing listens: bind, note the port, close.
    fn dead_base_url() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("local addr").port();
        drop(listener);
        format!("http://127.0.0.1:{port}/")
    }

    /// A resource whose digest is that of `body` (leaked: `Resource` holds `&'static str`).
    fn resource_for(file_name: &'static str, body: &[u8]) -> Resource {
        Resource { file_name, sha256: Box::leak(sha256_hex(body).into_boxed_str()) }
    }

    fn run(mirrors: &[String], files: &[Resource], dest: &Path) -> Result<FetchReport, FetchError> {
        fetch_with_agent(&build_agent(false), mirrors, files, dest, false)
    }

    fn dir_entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("read dest")
            .map(|entry| entry.expect("dir entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn downloads_and_verifies() {
        let body = b"pretend this is gzip".to_vec();
        let server = TestServer::start(vec![("/a.gz", body.clone())], 1);
        let dir = tempfile::tempdir().expect("temp dir");
        let dest = dir.path().join("cache").join("mnist"); // created by fetch
        let resource = resource_for("a.gz", &body);

        let report = run(std::slice::from_ref(&server.base_url), &[resource], &dest).expect("download");
        assert_eq!(report.files.len(), 1);
        assert_eq!(report.files[0].bytes, body.len() as u64);
        assert_eq!(report.files[0].outcome, Outcome::Downloaded { url: format!("{}a.gz", server.base_url) });
        assert_eq!(report.downloaded(), 1);
        assert_eq!(fs::read(dest.join("a.gz")).expect("final file"), body);
        assert_eq!(dir_entries(&dest), vec!["a.gz".to_string()]);
        assert_eq!(server.finish(), 1);
    }

    #[test]
    fn corrupted_body_is_a_checksum_error_and_leaves_nothing() {
        let server = TestServer::start(vec![("/a.gz", b"tampered".to_vec())], 1);
        let dir = tempfile::tempdir().expect("temp dir");
        let resource = resource_for("a.gz", b"original");

        let err = run(std::slice::from_ref(&server.base_url), &[resource], dir.path()).expect_err("bad sum");
        match &err {
            FetchError::Checksum { file, expected, actual } => {
                assert_eq!(file, "a.gz");
                assert_eq!(expected, &sha256_hex(b"original"));
                assert_eq!(actual, &sha256_hex(b"tampered"));
            }
            other => panic!("wrong error: {other}"),
        }
        assert!(!err.to_string().contains('\n'));
        assert!(dir_entries(dir.path()).is_empty(), "left {:?}", dir_entries(dir.path()));
        server.finish();
    }

    #[test]
    fn present_file_with_right_digest_is_skipped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let body = b"already here";
        fs::write(dir.path().join("a.gz"), body).expect("seed cache");
        let resource = resource_for("a.gz", body);

        // No reachable mirror: success proves nothing was downloaded.
        let report = run(&[dead_base_url()], &[resource], dir.path()).expect("skip");
        assert_eq!(report.files[0].outcome, Outcome::AlreadyPresent);
        assert_eq!(report.files[0].bytes, body.len() as u64);
        assert_eq!(report.downloaded(), 0);
    }

    #[test]
    fn present_file_with_wrong_digest_is_replaced() {
        let body = b"fresh copy".to_vec();
        let server = TestServer::start(vec![("/a.gz", body.clone())], 1);
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("a.gz"), b"stale").expect("seed cache");

        let report = run(std::slice::from_ref(&server.base_url), &[resource_for("a.gz", &body)], dir.path())
            .expect("re-download");
        assert_eq!(report.downloaded(), 1);
        assert_eq!(fs::read(dir.path().join("a.gz")).expect("final file"), body);
        server.finish();
    }

    #[test]
    fn falls_back_to_the_next_mirror_after_a_404() {
        let body = b"second mirror has it".to_vec();
        let empty_mirror = TestServer::start(Vec::new(), 1);
        let good_mirror = TestServer::start(vec![("/a.gz", body.clone())], 1);
        let dir = tempfile::tempdir().expect("temp dir");
        let mirrors = [empty_mirror.base_url.clone(), good_mirror.base_url.clone()];

        let report = run(&mirrors, &[resource_for("a.gz", &body)], dir.path()).expect("fallback");
        assert_eq!(report.files[0].outcome, Outcome::Downloaded { url: format!("{}a.gz", good_mirror.base_url) });
        assert_eq!(fs::read(dir.path().join("a.gz")).expect("final file"), body);
        assert_eq!(empty_mirror.finish(), 1);
        assert_eq!(good_mirror.finish(), 1);
    }

    #[test]
    fn unreachable_mirrors_are_offline_with_a_by_hand_hint() {
        let dir = tempfile::tempdir().expect("temp dir");
        let files = [resource_for("a.gz", b"x"), resource_for("b.gz", b"y")];
        let mirrors = [dead_base_url(), dead_base_url()];

        let err = run(&mirrors, &files, dir.path()).expect_err("offline");
        assert!(matches!(err, FetchError::Offline { .. }), "wrong error: {err}");
        let text = err.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(text.contains("could not reach any mirror"), "{text}");
        assert!(text.contains(&dir.path().display().to_string()), "{text}");
        assert!(text.contains("a.gz, b.gz"), "{text}");
        assert!(text.contains("--data DIR"), "{text}");
        assert!(dir_entries(dir.path()).is_empty());
    }

    #[test]
    fn mnist_digests_are_sha256_hex() {
        for resource in MNIST_FILES.iter() {
            assert_eq!(resource.sha256.len(), 64, "{}", resource.file_name);
            assert!(resource.sha256.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        for (name, sha) in MNIST_REPACKED_DIGESTS {
            assert!(MNIST_FILES.iter().any(|resource| resource.file_name == name));
            assert_eq!(sha.len(), 64);
        }
    }

    #[test]
    fn cache_dir_follows_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |key: &str| pairs.iter().find(|(name, _)| *name == key).map(|(_, value)| OsString::from(*value))
        };
        assert_eq!(cache_dir_from(env(&[("ZOO_CACHE", "/z"), ("HOME", "/h")])), PathBuf::from("/z"));
        assert_eq!(
            cache_dir_from(env(&[("ZOO_CACHE", ""), ("XDG_CACHE_HOME", "/x"), ("HOME", "/h")])),
            PathBuf::from("/x/zoo")
        );
        assert_eq!(cache_dir_from(env(&[("HOME", "/h")])), PathBuf::from("/h/.cache/zoo"));
    }

    #[test]
    fn urls_join_with_one_slash() {
        assert_eq!(join_url("http://m/x/", "f.gz"), "http://m/x/f.gz");
        assert_eq!(join_url("http://m/x", "f.gz"), "http://m/x/f.gz");
        assert_eq!(part_path(Path::new("/c/f.gz")), PathBuf::from("/c/.f.gz.part"));
    }
}
