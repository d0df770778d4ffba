//! The HTTP side of `zoo serve`: the page's files and the JSON API (README, "zoo serve").
//! Every error is JSON `{"error": "..."}` with its status: 400 for a bad picture, text or
//! value, 404 for an unknown run or file, 413 for a body over `--max-body`, 503 for a request
//! over `--timeout`.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use zoo_train::inference::{Capability, MAX_CHARACTERS};
use zoo_train::{Result, ZooError};

use super::Settings;
use super::catalog::{Catalog, ServedRun};
use super::worker::Worker;

const INDEX_HTML: &str = include_str!("../../assets/serve/index.html");
const APP_JS: &str = include_str!("../../assets/serve/app.js");
const STYLE_CSS: &str = include_str!("../../assets/serve/style.css");

#[derive(Clone)]
struct App {
    catalog: Arc<Catalog>,
}

/// An error answered as JSON.
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

impl From<ZooError> for ApiError {
    fn from(error: ZooError) -> Self {
        let status = match error {
            ZooError::Usage(_) => StatusCode::BAD_REQUEST,
            ZooError::Runtime(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, error.to_string())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        let status = rejection.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "the request body is larger than the server takes (zoo serve --max-body)".to_string()
        } else {
            rejection.body_text()
        };
        Self::new(status, message)
    }
}

type Answer<T = Json<Value>> = std::result::Result<T, ApiError>;

pub fn router(catalog: Arc<Catalog>, settings: &Settings) -> Router {
    let timeout = settings.timeout;
    let api = Router::new()
        .route("/runs", get(list_runs))
        .route("/runs/{id}", get(run_detail))
        .route("/runs/{id}/metrics", get(run_metrics))
        .route("/runs/{id}/files/{*name}", get(run_picture))
        .route("/runs/{id}/classify", post(classify))
        .route("/runs/{id}/decode", post(decode))
        .route("/runs/{id}/sample", post(sample))
        .route("/runs/{id}/classify-text", post(classify_text))
        .route("/runs/{id}/generate", post(generate))
        .route("/runs/{id}/episode", post(episode))
        .route("/runs/{id}/locate", post(locate))
        .route("/stats", get(stats))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such API endpoint; the README lists them") });
    Router::new()
        .route("/", get(|| async { page("text/html; charset=utf-8", INDEX_HTML) }))
        .route("/app.js", get(|| async { page("text/javascript; charset=utf-8", APP_JS) }))
        .route("/style.css", get(|| async { page("text/css; charset=utf-8", STYLE_CSS) }))
        .nest("/api", api)
        .layer(middleware::from_fn(move |request: Request, next: Next| async move {
            match tokio::time::timeout(timeout, next.run(request)).await {
                Ok(response) => response,
                Err(_) => ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("the request took longer than {} s (zoo serve --timeout)", timeout.as_secs()),
                )
                .into_response(),
            }
        }))
        .layer(DefaultBodyLimit::max(settings.max_body))
        .with_state(App { catalog })
}

pub async fn run(listener: tokio::net::TcpListener, catalog: Arc<Catalog>, settings: Settings) -> Result<()> {
    axum::serve(listener, router(catalog, &settings))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| ZooError::runtime(format!("the server stopped: {e}")))
}

fn page(content_type: &'static str, text: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], text).into_response()
}

fn find<'a>(app: &'a App, id: &str) -> Answer<&'a ServedRun> {
    app.catalog.find(id).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, format!("no run `{id}` is served here; GET /api/runs lists them"))
    })
}

/// The run's worker, when it can do `capability`.
fn worker_for<'a>(app: &'a App, id: &str, capability: Capability) -> Answer<&'a Worker> {
    let run = find(app, id)?;
    let Some(worker) = run.worker.as_ref().filter(|_| run.capabilities.contains(&capability)) else {
        let model = run.info.as_ref().map_or("this", |i| i.model.as_str());
        let why = run.problem.as_deref().map(|p| format!(" ({p})")).unwrap_or_default();
        let can: Vec<String> =
            run.capabilities.iter().map(|c| serde_json::to_value(c).unwrap_or_default().to_string()).collect();
        let what = serde_json::to_value(capability).unwrap_or_default();
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "run `{id}` ({model}) does not answer {what}{why}; it answers {}",
                if can.is_empty() { "nothing".to_string() } else { can.join(", ") }
            ),
        ));
    };
    Ok(worker)
}

/// A JSON body of type `T`; a malformed one is a 400 that says what is wrong.
fn json_body<T: DeserializeOwned>(body: std::result::Result<Bytes, BytesRejection>) -> Answer<T> {
    let body = body?;
    let body: &[u8] = if body.is_empty() { b"{}" } else { &body };
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, format!("the body is not the JSON this endpoint takes: {e}"))
    })
}

async fn list_runs(State(app): State<App>) -> Json<Value> {
    let runs: Vec<_> = app.catalog.runs.iter().map(ServedRun::summary).collect();
    Json(json!(runs))
}

fn metrics(run: &ServedRun) -> Value {
    let rows = zoo_train::metrics_log::read_metrics(&run.path.join("metrics.csv")).unwrap_or_default();
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|r| json!({"epoch": r.epoch, "split": r.split, "metric": r.metric, "value": r.value}))
        .collect();
    json!(rows)
}

async fn run_detail(State(app): State<App>, UrlPath(id): UrlPath<String>) -> Answer {
    let run = find(&app, &id)?;
    Ok(Json(json!({
        "run": run.summary(),
        "config": run.json("config.json"),
        "eval": run.json("eval.json"),
        "metrics": metrics(run),
        "pictures": run.pictures(),
    })))
}

async fn run_metrics(State(app): State<App>, UrlPath(id): UrlPath<String>) -> Answer {
    Ok(Json(metrics(find(&app, &id)?)))
}

/// A picture of the run: only a name the listing holds, so no path from a request reaches the
/// file system.
async fn run_picture(State(app): State<App>, UrlPath((id, name)): UrlPath<(String, String)>) -> Answer<Response> {
    let run = find(&app, &id)?;
    if !run.pictures().contains(&name) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("run `{id}` has no picture `{name}`")));
    }
    let bytes = std::fs::read(run.path.join(&name))
        .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, format!("{name}: cannot read it ({e})")))?;
    Ok(([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "no-cache")], bytes).into_response())
}

async fn stats(State(app): State<App>) -> Json<Value> {
    let runs: Vec<Value> = app
        .catalog
        .runs
        .iter()
        .filter_map(|r| r.worker.as_ref().map(|w| (r, w)))
        .map(|(r, w)| json!({"id": r.id, "classify": &*w.counts}))
        .collect();
    Json(json!(runs))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PixelsRequest {
    /// 28 x 28 values in [0, 1], row-major, light ink on black (as MNIST): a picture already
    /// prepared.
    pixels: Vec<f32>,
}

fn picture_error(error: zoo_data::ImageError) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, error.to_string())
}

/// `POST /api/runs/{id}/classify`: a PNG or JPEG picture (any size, prepared as `zoo predict`
/// prepares it), or JSON `{"pixels": [784 values]}` → every class with its probability, and the
/// 28 x 28 input the network saw.
async fn classify(
    State(app): State<App>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Answer {
    let worker = worker_for(&app, &id, Capability::Classify)?;
    let side = zoo_data::MNIST_SIDE;
    let pixels = if is_json(&headers) {
        let request: PixelsRequest = json_body(body)?;
        if request.pixels.len() != side * side || request.pixels.iter().any(|p| !(0.0..=1.0).contains(p)) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "pixels: give {} values in [0, 1] (28 x 28, row-major), not {}",
                    side * side,
                    request.pixels.len()
                ),
            ));
        }
        request.pixels
    } else {
        let body = body?;
        if body.is_empty() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "empty body: send a PNG or JPEG picture, or JSON pixels",
            ));
        }
        // Decoding is CPU work: off the runtime's threads.
        tokio::task::spawn_blocking(move || zoo_data::image_prep::mnist_from_bytes(&body, Path::new("the picture")))
            .await
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            .map_err(picture_error)?
    };
    let classes = worker.classify(pixels.clone()).await?;
    let classes: Vec<Value> = classes.into_iter().map(|(label, p)| json!({"label": label, "probability": p})).collect();
    Ok(Json(json!({"classes": classes, "input": {"side": side, "pixels": pixels}})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecodeRequest {
    /// Latent points, each of the run's latent size.
    points: Vec<Vec<f32>>,
}

fn pictures_json(pixels: Vec<f32>) -> Json<Value> {
    let side = zoo_data::MNIST_SIDE;
    let images: Vec<&[f32]> = pixels.chunks(side * side).collect();
    Json(json!({"side": side, "images": images}))
}

/// `POST /api/runs/{id}/decode` (VAE): `{"points": [[z1, z2], ...]}` → `{"side", "images"}`.
async fn decode(
    State(app): State<App>,
    UrlPath(id): UrlPath<String>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Answer {
    let worker = worker_for(&app, &id, Capability::Decode)?;
    let request: DecodeRequest = json_body(body)?;
    let n = request.points.len();
    let codes: Vec<f32> = request.points.concat();
    if request.points.iter().any(|p| p.len() * n != codes.len()) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "points: every point needs the same number of coordinates"));
    }
    Ok(pictures_json(worker.call(move |model| model.decode(&codes, n)).await?))
}

fn default_n() -> usize {
    16
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleRequest {
    #[serde(default = "default_n")]
    n: usize,
    #[serde(default)]
    seed: u64,
    /// A digit, for a class-conditional generator.
    digit: Option<u8>,
}

/// `POST /api/runs/{id}/sample` (GAN, VAE): `{"n": 16, "seed": 0, "digit": null}` →
/// `{"side", "images"}`; the same seed gives the same pictures.
async fn sample(
    State(app): State<App>,
    UrlPath(id): UrlPath<String>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Answer {
    let worker = worker_for(&app, &id, Capability::Sample)?;
    let request: SampleRequest = json_body(body)?;
    if request.digit.is_some_and(|d| d > 9) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "digit: give 0 to 9"));
    }
    Ok(pictures_json(worker.call(move |model| model.sample(request.n, request.seed, request.digit)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextRequest {
    text: String,
}

/// `POST /api/runs/{id}/classify-text` (attention): `{"text": "..."}` → classes with
/// probabilities and every word read with its attention weight.
async fn classify_text(
    State(app): State<App>,
    UrlPath(id): UrlPath<String>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Answer {
    let worker = worker_for(&app, &id, Capability::ClassifyText)?;
    let request: TextRequest = json_body(body)?;
    let answer = worker.call(move |model| model.classify_text(&request.text)).await?;
    let classes: Vec<Value> =
        answer.probabilities.iter().map(|(label, p)| json!({"label": label, "probability": p})).collect();
    let words: Vec<Value> = answer.attended.iter().map(|(word, w)| json!({"word": word, "weight": w})).collect();
    Ok(Json(json!({"classes": classes, "words": words, "words_total": answer.words})))
}

fn default_len() -> usize {
    300
}

fn default_temperature() -> f64 {
    0.8
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenerateRequest {
    #[serde(default)]
    prompt: String,
    #[serde(default = "default_len")]
    len: usize,
    #[serde(default = "default_temperature")]
    temperature: f64,
    #[serde(default)]
    seed: u64,
}

/// `POST /api/runs/{id}/generate` (char-lstm, gpt): `{"prompt", "len", "temperature", "seed"}`
/// → the continuation as plain text, streamed character by character as it is drawn.
async fn generate(
    State(app): State<App>,
    UrlPath(id): UrlPath<String>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Answer<Response> {
    let worker = worker_for(&app, &id, Capability::Generate)?;
    let request: GenerateRequest = json_body(body)?;
    if request.len == 0 || request.len > MAX_CHARACTERS {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, format!("len: ask for 1 to {MAX_CHARACTERS} characters")));
    }
    let (chars, mut received) = tokio::sync::mpsc::channel::<Result<String>>(256);
    worker.send(move |model| {
        let sent = model.generate(&request.prompt, request.len, request.temperature, request.seed, &mut |text| {
            chars.blocking_send(Ok(text.to_string())).is_ok()
        });
        if let Err(error) = sent {
            let _ = chars.blocking_send(Err(error));
        }
    })?;
    // The first message decides the status: an error before any character is a JSON error.
    let first = match received.recv().await {
        Some(Err(error)) => return Err(error.into()),
        Some(Ok(text)) => text,
        None => String::new(),
    };
    let rest = futures_util::stream::unfold(received, |mut received| async move {
        match received.recv().await {
            Some(Ok(text)) => Some((Ok::<_, std::io::Error>(Bytes::from(text)), received)),
            _ => None,
        }
    });
    let stream = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(first)) }),
        rest,
    );
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")],
        Body::from_stream(stream),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EpisodeRequest {
    #[serde(default)]
    seed: u64,
}

/// `POST /api/runs/{id}/episode` (dqn): `{"seed": 0}` → every state of one greedy episode.
async fn episode(
    State(app): State<App>,
    UrlPath(id): UrlPath<String>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Answer {
    let worker = worker_for(&app, &id, Capability::Episode)?;
    let request: EpisodeRequest = json_body(body)?;
    let episode = worker.call(move |model| model.episode(request.seed)).await?;
    Ok(Json(json!(episode)))
}

/// `POST /api/runs/{id}/locate` (multitask): a PNG or JPEG picture → the digit, its
/// probability and its box in the picture's pixels.
async fn locate(
    State(app): State<App>,
    UrlPath(id): UrlPath<String>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Answer {
    let run = find(&app, &id)?;
    let worker = worker_for(&app, &id, Capability::Locate)?;
    let (body, side) = (body?, run.canvas_side);
    let canvas = tokio::task::spawn_blocking(move || {
        zoo_data::image_prep::canvas_from_bytes(&body, Path::new("the picture"), side)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(picture_error)?;
    let (width, height) = (canvas.original.width(), canvas.original.height());
    let found = worker.call(move |model| model.locate(&canvas)).await?;
    Ok(Json(json!({
        "label": found.label,
        "probability": found.probability,
        "box": found.bounds,
        "width": width,
        "height": height,
    })))
}
