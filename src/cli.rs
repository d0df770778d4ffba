//! The command line: a thin layer over `zoo_train`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::registry::{self, Verb};

/// Train, evaluate and sample the classic models of modern AI, on any Burn backend.
#[derive(Debug, Parser)]
#[command(name = "zoo", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More log lines on stderr: -v notes, -vv debugging (RUST_LOG, when set and no -v or -q,
    /// chooses instead; default: warnings).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Errors only on stderr's log.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model; writes a run folder (runs/<model>/<time>/ unless --run-dir).
    Train(TrainArgs),
    /// Judge a trained run on its test data: accuracy, boxes, caption matches, likelihood,
    /// forecast errors, return.
    Eval(EvalArgs),
    /// Ask a trained run about your own pictures (PNG or JPEG, any size or colour) or texts:
    /// classify them, find the digit and its box (multitask), match captions (crossmodal).
    Predict(PredictArgs),
    /// Watch a trained agent play one episode, drawn in the terminal.
    Play(PlayArgs),
    /// Pictures from a trained generative model (new images, reconstructions, the latent
    /// plane), text from a character language model (char-lstm, gpt), test canvases with their
    /// true and predicted boxes (multitask), or a classifier's augmented training images
    /// (--augmented).
    Sample(SampleArgs),
    /// k-fold cross-validation of an image classifier: K runs on stratified folds of the
    /// training set, each fold's validation figures and their mean ± standard deviation (cv.json).
    Cv(CvArgs),
    /// Runs side by side: a table of their last epoch and evaluations, and one picture with a
    /// panel of train and valid curves per run.
    Compare(CompareArgs),
    /// Write a trained classifier's weights as safetensors (PyTorch's names and layouts, or
    /// zoo's), with the recipe beside it as JSON.
    Export(ExportArgs),
    /// A local web page to try trained runs by hand (draw a digit, walk the VAE's latent
    /// plane, sample the GAN, classify a text, continue a prompt, watch the agent) and browse
    /// every run's curves, with a JSON API.
    Serve(ServeArgs),
    /// Host this machine's devices for another machine's zoo (`--device remote:ADDR` there),
    /// through Burn's remote backend: Iroh by default, WebSocket on a trusted network. The token
    /// comes from $ZOO_WORKER_TOKEN or a file, the same on both sides.
    Worker(WorkerArgs),
    /// Print a model's default recipe as JSON (edit it and pass it back with --config).
    Config {
        /// The model (`zoo list` says what each is).
        #[arg(value_parser = registry::model_arg(None))]
        model: String,
    },
    /// Name every model with one line on what it is.
    List,
    /// The devices this build can run on: each backend compiled in, the GPUs it sees (physical or
    /// software), and the backends it was built without.
    Devices,
    /// A worked example, with every number, of a building block written from scratch.
    Explain {
        #[arg(value_enum)]
        topic: Topic,
    },
    /// Print the shell completion script of zoo (install: see the README).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print zoo's man page (roff), or write a page per command into --dir.
    Man {
        /// Folder to write zoo.1 and zoo-<command>.1 into.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Datasets: download them into the cache.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
}

#[derive(Debug, Args)]
pub struct DeviceArg {
    /// Backend device: cpu, ndarray, wgpu (wgpu:N), wgpu-cpu, vulkan, cuda (cuda:N), metal or
    /// remote:ADDR (a `zoo worker`), as compiled in (`zoo devices` lists them) [default: a physical GPU of the first GPU backend compiled
    /// in, else cpu; `train --resume`: the run's own]
    #[arg(long, env = "ZOO_DEVICE")]
    pub device: Option<String>,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The model (`zoo list` says what each is).
    #[arg(value_parser = registry::model_arg(Some(Verb::Train)))]
    pub model: String,
    /// Recipe JSON; may give only the fields it changes (see `zoo config <model>`).
    #[arg(long, value_name = "FILE.json")]
    pub config: Option<PathBuf>,
    /// A recipe field, laid over --config: `--set fit.max_shift=2 --set model.hidden=256`
    /// (values are JSON; a bare word is a string). Unknown keys and wrong types are refused.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Passes over the training data (every model but dqn and qlearning).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Environment steps of the whole run (dqn, qlearning).
    #[arg(long, value_name = "N")]
    pub steps: Option<usize>,
    /// Episodes of the whole run (qlearning).
    #[arg(long, value_name = "N")]
    pub episodes: Option<usize>,
    /// Samples per optimiser step.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Seed of the weights and of everything random in the run (shuffling, validation split,
    /// exploration, environment starts).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Train on the first N training images only (quick trials; 0: all of them).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Image models: a folder of MNIST-format IDX files, or for classifiers a folder with one
    /// subfolder of PNG/JPEG pictures per class [default: the MNIST extract built into zoo];
    /// lstm: births, co2, sunspots or a CSV file [default: births]; char-lstm and gpt:
    /// moby-dick or a text file; attention: sotu or a .jsonl/.csv file [default: sotu].
    #[arg(long, value_name = "DIR|NAME|FILE")]
    pub data: Option<PathBuf>,
    /// Steps per season of a CSV series (lstm) [default: read from its date column, else 1].
    #[arg(long, value_name = "N")]
    pub season: Option<usize>,
    /// The field of --data holding the text (attention) [default: text].
    #[arg(long, value_name = "NAME")]
    pub text_field: Option<String>,
    /// The field of --data holding the label (attention) [default: party].
    #[arg(long, value_name = "NAME")]
    pub label_field: Option<String>,
    /// Run folder to create [default: runs/<model>/<UTC time>].
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// The pretrained network to fine-tune (transfer): a `cnn` or `resnet` run folder, or a
    /// weights file of the backbone (.pt, .pth, .safetensors) [default: none, the same network
    /// trained from scratch].
    #[arg(long, value_name = "RUN_DIR|FILE")]
    pub from: Option<PathBuf>,
    /// Start from these weights instead of random ones (mlp, cnn, rnn, resnet, transfer): a PyTorch
    /// state dict (.pt, .pth) or a .safetensors file with the model's parameter names.
    #[arg(long, value_name = "FILE")]
    pub init_from: Option<PathBuf>,
    /// Train data-parallel on several devices, a shard of every batch on each: `cuda:0,cuda:1`,
    /// `wgpu:0,wgpu:1`, `cpu,ndarray`, or `all` (every GPU found). The first device keeps the
    /// optimiser and validates; the gradients are summed there (mlp, cnn, rnn; replaces --device).
    #[arg(long, value_name = "LIST")]
    pub devices: Option<String>,
    /// Continue an interrupted run from its last checkpoint (with --epochs or --steps, train further).
    #[arg(long, value_name = "RUN_DIR")]
    pub resume: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceArg,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The model the run trained.
    #[arg(value_parser = registry::model_arg(Some(Verb::Export)))]
    pub model: String,
    /// Run folder made by `zoo train`.
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// The file format.
    #[arg(long, value_enum, default_value_t = WeightsFormat::Safetensors)]
    pub format: WeightsFormat,
    /// Parameter names and layouts: PyTorch's (load_state_dict of the same architecture takes
    /// the file) or zoo's own.
    #[arg(long, value_enum, default_value_t = WeightNames::Pytorch)]
    pub names: WeightNames,
    /// The file to write [default: model.safetensors in the run folder]; the recipe goes
    /// beside it as FILE.json.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceArg,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum WeightsFormat {
    Safetensors,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum WeightNames {
    Pytorch,
    Burn,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Run folders made by `zoo train` (or the fold-N folders of `zoo cv`).
    #[arg(required = true, value_name = "RUN_DIR")]
    pub runs: Vec<PathBuf>,
    /// The metric drawn and tabled (Loss, Accuracy, ... as in metrics.csv).
    #[arg(long, default_value = "Loss")]
    pub metric: String,
    /// The PNG to write [default: compare.png here].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CvArgs {
    /// The classifier.
    #[arg(value_parser = registry::model_arg(Some(Verb::Cv)))]
    pub model: String,
    /// Folds: each trains on the others and validates on itself.
    #[arg(long, value_name = "K", default_value_t = 5)]
    pub folds: usize,
    /// Recipe JSON; may give only the fields it changes (see `zoo config <model>`).
    #[arg(long, value_name = "FILE.json")]
    pub config: Option<PathBuf>,
    /// A recipe field, laid over --config: `--set fit.max_shift=2 --set model.hidden=256`
    /// (values are JSON; a bare word is a string). Unknown keys and wrong types are refused.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Passes over each fold's training data.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Samples per optimiser step.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Seed of the folds and of every fold's run.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Deal the first N training images into the folds (all by default).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Folder of MNIST-format IDX files [default: the MNIST extract built into zoo].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Folder to create, holding cv.json and fold-1/ ... fold-K/ [default: runs/<model>/<UTC time>].
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// Continue an interrupted cross-validation from its folder.
    #[arg(long, value_name = "CV_DIR")]
    pub resume: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceArg,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The model the run trained.
    #[arg(value_parser = registry::model_arg(Some(Verb::Eval)))]
    pub model: String,
    /// Run folder made by `zoo train`.
    #[arg(long, value_name = "DIR", required_unless_present = "images")]
    pub run: Option<PathBuf>,
    /// Evaluate on this folder's test split [default: the run's own data].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Evaluate on the images the run trained on instead of the test set (mlp, cnn, rnn, resnet,
    /// transfer): with the test figure, how much the model overfits; writes eval-train.json.
    #[arg(long)]
    pub train_split: bool,
    /// Greedy episodes to average (dqn, qlearning) [default: 100].
    #[arg(long, value_name = "N")]
    pub episodes: Option<usize>,
    /// Seed of the evaluation episodes' starts (dqn, qlearning) or of the generated images
    /// (gan) [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// A `cnn` run that judges the generated images (gan).
    #[arg(long, value_name = "CNN_RUN")]
    pub judge: Option<PathBuf>,
    /// Images to generate for the judge (gan) [default: 10000].
    #[arg(long, value_name = "N")]
    pub samples: Option<usize>,
    /// Judge the trained generator instead of its moving average (gan).
    #[arg(long)]
    pub trained: bool,
    /// Judge these pictures instead of a run's generator (gan): an MNIST-format IDX file of
    /// 28x28 bytes (.gz too), as `zoo sample gan --out FILE.idx` or another program writes it.
    #[arg(long, value_name = "FILE.idx")]
    pub images: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceArg,
}

impl EvalArgs {
    /// `--run`, which every evaluation but the judge of an image file needs.
    pub fn run_dir(&self) -> zoo_train::Result<&std::path::Path> {
        self.run.as_deref().ok_or_else(|| {
            zoo_train::ZooError::usage(format!("zoo eval {} needs --run DIR, a folder made by `zoo train`", self.model))
        })
    }
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The model the run trained.
    #[arg(value_parser = registry::model_arg(Some(Verb::Sample)))]
    pub model: String,
    /// Run folder made by `zoo train`.
    #[arg(long, value_name = "DIR", required_unless_present_any = ["config", "augmented"])]
    pub run: Option<PathBuf>,
    /// Augmented training images as the network sees them: each row one image, first as
    /// stored, then transformed by the recipe's augmentation (mlp, cnn, rnn, resnet).
    #[arg(long)]
    pub augmented: bool,
    /// With --augmented and no --run: the recipe whose augmentation to show [default: the
    /// model's default recipe].
    #[arg(long, value_name = "FILE", conflicts_with = "run")]
    pub config: Option<PathBuf>,
    /// With --augmented and no --run: a folder of MNIST-format IDX files [default: the
    /// embedded extract].
    #[arg(long, value_name = "DIR", conflicts_with = "run")]
    pub data: Option<PathBuf>,
    /// Images in the grid (autoencoder, vae, gan, multitask, and --augmented) [default: 64].
    #[arg(long)]
    pub n: Option<usize>,
    /// Draw with the trained generator instead of its moving average (gan).
    #[arg(long)]
    pub trained: bool,
    /// Only this digit (a class-conditional gan run: recipes/gan-conditional.json); without
    /// it such a run draws a row per digit.
    #[arg(long, value_name = "0-9")]
    pub digit: Option<u8>,
    /// Seed of the noise, of the drawn characters, or of the augmentation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The PNG to write [default: in the run folder]; the VAE's other pictures go beside it.
    /// For text: a file to write besides printing it. gan: a name ending in .idx writes the
    /// pictures `zoo eval gan` judges as an IDX file instead (for `eval gan --images`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The text to continue (char-lstm, gpt) [default: "Call me"].
    #[arg(long)]
    pub prompt: Option<String>,
    /// Characters to generate (char-lstm, gpt) [default: 500].
    #[arg(long)]
    pub len: Option<usize>,
    /// Softmax temperature: lower is safer, higher is wilder; 0 takes the most likely
    /// character (char-lstm, gpt) [default: 0.8].
    #[arg(long)]
    pub temperature: Option<f64>,
    #[command(flatten)]
    pub device: DeviceArg,
}

#[derive(Debug, Args)]
pub struct PlayArgs {
    /// The agent the run trained.
    #[arg(value_parser = registry::model_arg(Some(Verb::Play)))]
    pub model: String,
    /// Run folder made by `zoo train`.
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Seed of the episode's start.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Frames per second on a terminal (CartPole's own pace is 50; 0: as fast as possible).
    /// Printed to a file or pipe, every 50th frame and the last are kept.
    #[arg(long, default_value_t = 25.0)]
    pub fps: f64,
    #[command(flatten)]
    pub device: DeviceArg,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// The model the run trained.
    #[arg(value_parser = registry::model_arg(Some(Verb::Predict)))]
    pub model: String,
    /// Run folder made by `zoo train`.
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Pictures to classify (mlp, cnn, rnn, resnet, transfer), to find the digit in
    /// (multitask) or to match with captions (crossmodal), or texts to classify (attention).
    #[arg(required = true, value_name = "FILE.png|TEXT")]
    pub inputs: Vec<String>,
    /// multitask: write the picture with its box and label drawn on it here (one picture).
    #[arg(long, value_name = "FILE.png")]
    pub out: Option<PathBuf>,
    /// crossmodal: a caption to match with the picture, in English or Chinese (repeat it to
    /// rank several).
    #[arg(long, value_name = "CAPTION")]
    pub text: Vec<String>,
    #[command(flatten)]
    pub device: DeviceArg,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Download a dataset's standard files, checking their SHA-256.
    Fetch {
        #[arg(value_enum)]
        dataset: Dataset,
        /// Where to put the files [default: $ZOO_CACHE, else ~/.cache/zoo, then /<dataset>].
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Base URL to download from instead of the public mirrors (repeatable).
        #[arg(long, value_name = "URL")]
        mirror: Vec<String>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Dataset {
    /// MNIST: 60,000 training and 10,000 test images of handwritten digits.
    Mnist,
}

/// The building blocks `zoo explain` works through (items 12-26 of the source document).
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Topic {
    /// 2-D convolution of the article's 5x5 image with its sharpen kernel.
    Conv,
    /// Stride 1 and 2, and the output-size formula.
    Stride,
    /// Valid and same padding.
    Padding,
    /// Max and average pooling of a 4x4 map.
    Pool,
    /// ReLU, LeakyReLU, sigmoid, tanh, GELU and softmax with their derivatives.
    Activations,
    /// The spread of each weight initialiser against theory.
    Init,
    /// One manual backpropagation step of a 2-layer network, every intermediate value.
    Backprop,
}

impl SampleArgs {
    /// `--run`, which every sample but a classifier's `--augmented --config` needs.
    pub fn run_dir(&self) -> zoo_train::Result<&std::path::Path> {
        self.run.as_deref().ok_or_else(|| {
            zoo_train::ZooError::usage(format!(
                "zoo sample {} needs --run DIR, a folder made by `zoo train`",
                self.model
            ))
        })
    }
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub device: DeviceArg,
    /// Host several devices, one backend's (`cuda:0,cuda:1`); a client picks one with
    /// `remote:ADDR#N` [default: --device's one].
    #[arg(long, value_name = "LIST")]
    pub devices: Option<String>,
    /// Serve over WebSocket (unencrypted: a trusted network only) instead of Iroh.
    #[arg(long)]
    pub websocket: bool,
    /// Where to listen: the WebSocket's address, or Iroh's UDP port (its address part is
    /// ignored: Iroh listens on every interface).
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:7878")]
    pub listen: String,
    /// Iroh's relays: `public` (n0's: clients find the worker by its id anywhere), `disabled`
    /// (direct connections: clients give the address), or a relay URL of your own.
    #[arg(long, value_name = "public|disabled|URL", default_value = "public")]
    pub relays: String,
    /// The Iroh key file, whose public half is the worker's id (created when missing)
    /// [default: <cache>/worker.key].
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// A file holding the token clients must present [default: $ZOO_WORKER_TOKEN_FILE's file,
    /// else $ZOO_WORKER_TOKEN].
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A folder of runs to list and load (each subfolder with a run.json, two levels deep:
    /// runs/<model>/<time>/ as `zoo train` makes them) [default: runs, when no --run is given]
    #[arg(long, value_name = "DIR")]
    pub runs: Vec<PathBuf>,
    /// One run folder to serve (repeat for more).
    #[arg(long, value_name = "RUN")]
    pub run: Vec<PathBuf>,
    /// Address to listen on; loopback unless told otherwise (0.0.0.0:8080 shows the page to
    /// the network).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Classify requests answered together in one forward pass, at most.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub batch_size: usize,
    /// How long a classify request waits for others to share its forward pass (0: only those
    /// already queued).
    #[arg(long, default_value_t = 2, value_name = "MS")]
    pub batch_wait_ms: u64,
    /// Largest request body in bytes (a bigger one gets 413).
    #[arg(long, default_value_t = 4 << 20, value_name = "BYTES")]
    pub max_body: usize,
    /// Seconds a request may take before it gets 503.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub timeout: u64,
    #[command(flatten)]
    pub device: DeviceArg,
}
