//! `zoo`: the command-line application. Parsing lives in [`cli`], the device choice in
//! [`device`]; everything else is in the `zoo-train`, `zoo-data` and `zoo-models` crates.
#![recursion_limit = "256"]

pub mod cli;
pub mod device;

use cli::{Cli, Command, DataCommand, Dataset, DeviceArg, EvalArgs, Model, PlayModel, SampleArgs, SampleModel, TrainArgs};
use zoo_train::generative::autoencoder::{self as ae, AutoencoderRecipe};
use zoo_train::generative::gan::{self, GanRecipe};
use zoo_train::generative::vae::{self, VaeRecipe};
use zoo_train::generative;
use zoo_train::fit::FitOverrides;
use zoo_train::forecast::{self, LstmRecipe, LstmTask};
use zoo_train::language;
use zoo_train::textclass::{self, AttentionRecipe, AttentionTask, FieldOverrides};
use zoo_train::image::{self, TrainRequest, confusion_table};
use zoo_train::recipes::{CnnRecipe, MODELS, MlpRecipe, RnnRecipe, default_json};
use zoo_train::rl::dqn::{self, DqnRecipe};
use zoo_train::rl::qlearning::{self, QLearningRecipe};
use zoo_train::rl::{RlTrainRequest, play};
use zoo_train::{Result, ZooError};

/// Runs `$body` with `$R` bound to the recipe type of the image model `$model`: the one place
/// that maps an image model's name to its recipe. An RL model returns a usage error naming
/// `$what` (it has its own commands).
macro_rules! with_image_recipe {
    ($model:expr, $what:expr, $R:ident => $body:expr) => {
        match $model {
            Model::Mlp => {
                type $R = MlpRecipe;
                $body
            }
            Model::Cnn => {
                type $R = CnnRecipe;
                $body
            }
            Model::Rnn => {
                type $R = RnnRecipe;
                $body
            }
            other => {
                return Err(ZooError::usage(format!("`zoo {}` is for image classifiers, not {}", $what, other.name())))
            }
        }
    };
}

/// Runs one parsed command.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Eval(args) if args.trained && args.model != Model::Gan => {
            Err(ZooError::usage(format!("--trained applies to gan (its generator's moving average is judged by default), not {}", args.model.name())))
        }
        Command::Train(args) if args.model.is_rl() => train_rl(args),
        Command::Eval(args) if args.model.is_rl() => eval_rl(args),
        Command::Eval(args) if args.model.is_generative() => eval_generative(args),
        Command::Train(args) if matches!(args.model, Model::Lstm | Model::Attention) => train_sequence(args),
        Command::Eval(args) if args.model == Model::Lstm => eval_lstm(args),
        Command::Eval(args) if args.model == Model::Attention => eval_attention(args),
        Command::Predict(args) if args.model == Model::Attention => predict_attention(args),
        Command::Sample(args) => sample(args),
        Command::Train(args) => {
            if args.text_field.is_some() || args.label_field.is_some() {
                return Err(ZooError::usage("--text-field and --label-field apply to attention"));
            }
            for (given, flag) in [(args.steps.is_some(), "--steps"), (args.episodes.is_some(), "--episodes")] {
                if given {
                    return Err(ZooError::usage(format!(
                        "{flag} applies to dqn and qlearning; {} trains for --epochs",
                        args.model.name()
                    )));
                }
            }
            let (device, device_name) = pick_train_device(&args.device, args.resume.as_deref())?;
            let request = TrainRequest {
                config_file: args.config,
                overrides: FitOverrides {
                    epochs: args.epochs,
                    batch_size: args.batch_size,
                    learning_rate: args.lr,
                    seed: args.seed,
                    limit: args.limit,
                },
                data: args.data,
                run_dir: args.run_dir,
                resume: args.resume,
                device,
                device_name,
            };
            if args.model.is_generative() {
                match args.model {
                    Model::Autoencoder => generative::train::<AutoencoderRecipe>(&request)?,
                    Model::Vae => generative::train::<VaeRecipe>(&request)?,
                    _ => generative::train::<GanRecipe>(&request)?,
                };
                return Ok(());
            }
            with_image_recipe!(args.model, "train", R => image::train::<R>(&request))?;
            Ok(())
        }
        Command::Eval(args) => {
            if args.judge.is_some() || args.samples.is_some() {
                return Err(ZooError::usage("--judge and --samples apply to gan"));
            }
            if args.episodes.is_some() || args.seed.is_some() {
                return Err(ZooError::usage(
                    "--episodes and --seed apply to dqn and qlearning; image models are evaluated on their test split",
                ));
            }
            let (device, _) = pick_device(&args.device)?;
            let report = with_image_recipe!(args.model, "eval", R => image::eval::<R>(&args.run, args.data.as_deref(), &device))?;
            println!(
                "{} {}: test set of {} images from {}",
                report.model,
                args.run.display(),
                report.images,
                report.data
            );
            println!("loss {:.4}  accuracy {:.2} %", report.loss, report.accuracy);
            println!("confusion matrix (rows: true class, columns: predicted class)");
            print!("{}", confusion_table(&report.confusion));
            Ok(())
        }
        Command::Predict(args) => {
            let (device, _) = pick_device(&args.device)?;
            if args.model == Model::Dqn {
                return Err(ZooError::usage("`zoo predict` classifies pictures; watch dqn act with `zoo play dqn --run DIR`"));
            }
            let files: Vec<std::path::PathBuf> = args.inputs.iter().map(std::path::PathBuf::from).collect();
            let answers = with_image_recipe!(args.model, "predict", R => image::predict::<R>(&args.run, &files, &device))?;
            for (file, ranked) in answers {
                let classes: Vec<String> =
                    ranked.iter().map(|(c, p)| format!("{c} {:5.1} %", 100.0 * p)).collect();
                println!("{}: {}", file.display(), classes.join("   "));
            }
            Ok(())
        }
        Command::Play(args) => {
            let (device, _) = pick_device(&args.device)?;
            match args.model {
                PlayModel::Dqn => play::play(&args.run, args.seed, args.fps, &device)?,
            };
            Ok(())
        }
        Command::Config { model } => {
            let json = match model {
                Model::Qlearning => default_json::<QLearningRecipe>(),
                Model::Dqn => default_json::<DqnRecipe>(),
                Model::Autoencoder => default_json::<AutoencoderRecipe>(),
                Model::Vae => default_json::<VaeRecipe>(),
                Model::Gan => default_json::<GanRecipe>(),
                Model::Lstm => default_json::<LstmRecipe>(),
                Model::Attention => default_json::<AttentionRecipe>(),
                image => with_image_recipe!(image, "config", R => default_json::<R>()),
            };
            println!("{json}");
            Ok(())
        }
        Command::List => {
            for (name, about) in MODELS {
                println!("{name:<12} {about}");
            }
            Ok(())
        }
        Command::Explain { topic } => {
            let name = clap::ValueEnum::to_possible_value(&topic).map(|v| v.get_name().to_string());
            let text = zoo_primitives::explain(name.as_deref().unwrap_or_default())
                .map_err(ZooError::usage)?;
            print!("{text}");
            Ok(())
        }
        Command::Data { command: DataCommand::Fetch { dataset: Dataset::Mnist, dir, mirror } } => {
            fetch_mnist(dir, mirror)
        }
    }
}

fn train_rl(args: TrainArgs) -> Result<()> {
    let name = args.model.name();
    for (given, flag) in [
        (args.epochs.is_some(), "--epochs"),
        (args.limit.is_some(), "--limit"),
        (args.data.is_some(), "--data"),
    ] {
        if given {
            return Err(ZooError::usage(format!(
                "{flag} does not apply to {name}: it learns from its environment for --steps N{}",
                if args.model == Model::Qlearning { " or --episodes N" } else { "" }
            )));
        }
    }
    // Q-learning is a table: no tensors, no device.
    let (device, device_name) = match args.model {
        Model::Dqn => {
            let (device, name) = pick_train_device(&args.device, args.resume.as_deref())?;
            (Some(device), name)
        }
        _ => (None, "none (tabular)".to_string()),
    };
    let request = RlTrainRequest {
        config_file: args.config,
        steps: args.steps,
        episodes: args.episodes,
        seed: args.seed,
        learning_rate: args.lr,
        batch_size: args.batch_size,
        run_dir: args.run_dir,
        resume: args.resume,
        device,
        device_name,
    };
    match args.model {
        Model::Dqn => dqn::train(&request).map(|_| ()),
        _ => qlearning::train(&request).map(|_| ()),
    }
}

fn eval_rl(args: EvalArgs) -> Result<()> {
    if args.data.is_some() {
        return Err(ZooError::usage(format!("--data does not apply to {}: it is evaluated in its environment", args.model.name())));
    }
    let episodes = args.episodes.unwrap_or(100);
    let seed = args.seed.unwrap_or(0);
    let stats = if args.model == Model::Dqn {
        let (device, _) = pick_device(&args.device)?;
        dqn::eval(&args.run, episodes, seed, &device)?
    } else {
        let (stats, table) = qlearning::eval(&args.run, episodes, seed)?;
        let optimal = table.optimal.iter().filter(|o| **o).count();
        println!("greedy policy optimal from {optimal} of {} interior states", table.optimal.len());
        stats
    };
    println!(
        "{} {}: {} greedy episodes of {} (starts seeded {}): return {:.1} ± {:.1} (min {}, max {})",
        stats.model,
        args.run.display(),
        stats.episodes,
        stats.environment,
        stats.seed,
        stats.mean,
        stats.std,
        stats.min,
        stats.max
    );
    Ok(())
}

/// `lstm` and `attention`: the recipe's task picks the loop.
fn train_sequence(args: TrainArgs) -> Result<()> {
    let name = args.model.name();
    for (given, flag) in [(args.steps.is_some(), "--steps"), (args.episodes.is_some(), "--episodes")] {
        if given {
            return Err(ZooError::usage(format!("{flag} does not apply to {name}; it trains for --epochs")));
        }
    }
    if args.model == Model::Lstm && (args.text_field.is_some() || args.label_field.is_some()) {
        return Err(ZooError::usage("--text-field and --label-field apply to attention"));
    }
    let (device, device_name) = pick_train_device(&args.device, args.resume.as_deref())?;
    let request = TrainRequest {
        config_file: args.config,
        overrides: FitOverrides { epochs: args.epochs, batch_size: args.batch_size, learning_rate: args.lr, seed: args.seed, limit: args.limit },
        data: args.data,
        run_dir: args.run_dir,
        resume: args.resume,
        device,
        device_name,
    };
    let limit_unused = |task: &str| {
        if request.overrides.limit.is_some() {
            Err(ZooError::usage(format!("--limit does not apply to {name} {task}")))
        } else {
            Ok(())
        }
    };
    if args.model == Model::Lstm {
        let recipe: LstmRecipe = request.recipe()?;
        match recipe.task {
            LstmTask::Forecast => {
                limit_unused("forecasting")?;
                forecast::train(&request)
            }
            LstmTask::Language => {
                limit_unused("language models")?;
                language::train(&request, recipe)
            }
        }
    } else {
        let recipe: AttentionRecipe = request.recipe()?;
        match recipe.task {
            AttentionTask::Classify => {
                let fields = FieldOverrides { text_field: args.text_field, label_field: args.label_field };
                textclass::train(&request, recipe, &fields)
            }
            AttentionTask::Language => {
                limit_unused("language models")?;
                if args.text_field.is_some() || args.label_field.is_some() {
                    return Err(ZooError::usage("--text-field and --label-field apply to the attention classifier, not its language model"));
                }
                language::train(&request, recipe)
            }
        }
    }
}

/// The task of a trained run of a recipe with several tasks.
fn run_recipe<R: zoo_train::recipes::Recipe>(run: &std::path::Path) -> Result<R> {
    zoo_train::run::RunDir::open(run, R::NAME)?.0.read_json("config.json")
}

fn print_language_eval(r: &language::LanguageEval, run: &std::path::Path) {
    println!("{} {}: {} held-out characters of {} ({})", r.model, run.display(), r.valid_chars, r.text, r.reading);
    println!("validation loss {:.4} nats per character ({:.3} bits per character)", r.nats_per_char, r.bits_per_char);
}

fn eval_attention(args: EvalArgs) -> Result<()> {
    if args.data.is_some() || args.episodes.is_some() || args.judge.is_some() || args.samples.is_some() || args.seed.is_some() {
        return Err(ZooError::usage("zoo eval attention takes --run (and --device): the run knows its data and split"));
    }
    let (device, _) = pick_device(&args.device)?;
    let recipe: AttentionRecipe = run_recipe(&args.run)?;
    if recipe.task == AttentionTask::Language {
        print_language_eval(&language::eval::<AttentionRecipe>(&args.run, &device)?, &args.run);
        return Ok(());
    }
    let r = textclass::eval(&args.run, &device)?;
    println!(
        "attention {}: {} test chunks from {} documents of {} ({})",
        args.run.display(),
        r.test_chunks,
        r.test_documents,
        r.data,
        r.labels.join(" vs ")
    );
    println!("{:<52} {:>10} {:>10}", "method", "test", "valid");
    for m in &r.methods {
        println!("{:<52} {:>9.2}% {:>9.2}%", m.method, 100.0 * m.test_accuracy, 100.0 * m.valid_accuracy);
    }
    Ok(())
}

fn predict_attention(args: cli::PredictArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    let answers = textclass::predict(&args.run, &args.inputs, 8, &device)?;
    for (text, a) in args.inputs.iter().zip(answers) {
        let shown: String = if text.chars().count() > 60 { format!("{}...", text.chars().take(57).collect::<String>()) } else { text.clone() };
        let classes: Vec<String> = a.probabilities.iter().map(|(c, p)| format!("{c} {:5.1} %", 100.0 * p)).collect();
        println!("\"{shown}\": {}", classes.join("   "));
        if a.used_words < a.words {
            println!("  (read the first {} of {} words)", a.used_words, a.words);
        }
        let tokens: Vec<String> = a.top_tokens.iter().map(|(w, x)| format!("{w} {:.3}", x)).collect();
        println!("  most attended: {}", tokens.join(", "));
    }
    Ok(())
}

fn eval_lstm(args: EvalArgs) -> Result<()> {
    if args.data.is_some() || args.episodes.is_some() || args.judge.is_some() || args.samples.is_some() || args.seed.is_some() {
        return Err(ZooError::usage("zoo eval lstm takes --run (and --device): the run knows its series and split"));
    }
    let (device, _) = pick_device(&args.device)?;
    let recipe: LstmRecipe = run_recipe(&args.run)?;
    if recipe.task == LstmTask::Language {
        print_language_eval(&language::eval::<LstmRecipe>(&args.run, &device)?, &args.run);
        return Ok(());
    }
    let r = forecast::eval(&args.run, &device)?;
    println!("lstm {}: {} test steps of {}; multi-step horizon {} (season {})", args.run.display(), r.test_steps, r.series, r.horizon, r.period);
    println!("{:<16} {:>12} {:>12} {:>14} {:>14}", "method", "1-step RMSE", "1-step MAE", "multi RMSE", "multi MAE");
    for m in &r.methods {
        println!("{:<16} {:>12.3} {:>12.3} {:>14.3} {:>14.3}", m.method, m.one_step_rmse, m.one_step_mae, m.multi_step_rmse, m.multi_step_mae);
    }
    let (lstm, seasonal) = (&r.methods[0], &r.methods[2]);
    println!(
        "one-step RMSE {:.1} % below seasonal naive; forecast against truth in {}",
        100.0 * (1.0 - lstm.one_step_rmse / seasonal.one_step_rmse),
        args.run.join("forecast.png").display()
    );
    Ok(())
}

fn eval_generative(args: EvalArgs) -> Result<()> {
    let name = args.model.name();
    if args.episodes.is_some() {
        return Err(ZooError::usage(format!("--episodes applies to dqn and qlearning, not {name}")));
    }
    if args.model != Model::Gan && (args.judge.is_some() || args.samples.is_some() || args.seed.is_some()) {
        return Err(ZooError::usage(format!("--judge, --samples and --seed apply to gan, not {name}")));
    }
    let (device, _) = pick_device(&args.device)?;
    match args.model {
        Model::Autoencoder => {
            let r = ae::eval(&args.run, args.data.as_deref(), &device)?;
            println!("autoencoder {}: test set of {} images from {}", args.run.display(), r.images, r.data);
            println!("binary cross-entropy {:.4} nats per pixel  (mean squared error {:.4})", r.bce_per_pixel, r.mse_per_pixel);
        }
        Model::Vae => {
            let r = vae::eval(&args.run, args.data.as_deref(), &device)?;
            println!("vae {}: test set of {} images from {}", args.run.display(), r.images, r.data);
            println!(
                "negative ELBO {:.2} nats per image = reconstruction {:.2} + KL {:.2}  (latent {}, one sampled code per image)",
                r.negative_elbo, r.reconstruction, r.kl, r.latent
            );
        }
        _ => {
            if args.data.is_some() {
                return Err(ZooError::usage("--data does not apply to gan: the judge's own data is the reference"));
            }
            let Some(judge) = &args.judge else {
                return Err(ZooError::usage(
                    "zoo eval gan needs --judge CNN_RUN, a run of `zoo train cnn` trained on the same kind of images",
                ));
            };
            let r = gan::judge_eval(&args.run, judge, args.samples.unwrap_or(10_000), args.seed.unwrap_or(0), args.trained, &device)?;
            println!("gan {}: {} images from its {} generator judged by {}", args.run.display(), r.generated, r.generator, r.judge);
            println!(
                "Fréchet distance to the test set {:.2} (real training images: {:.2}; ratio {:.2})",
                r.frechet_distance, r.frechet_floor, r.ratio
            );
            println!("classified with ≥ 90 % confidence: {:.1} %", r.confident_percent);
            let classes: Vec<String> = r.class_percent.iter().enumerate().map(|(c, p)| format!("{c}: {p:.1} %")).collect();
            println!("classes: {}", classes.join("  "));
        }
    }
    Ok(())
}

fn sample(args: SampleArgs) -> Result<()> {
    if args.trained && args.model != SampleModel::Gan {
        return Err(ZooError::usage("--trained applies to gan (its generator's moving average draws by default)"));
    }
    let (device, _) = pick_device(&args.device)?;
    let text_model = matches!(args.model, SampleModel::Lstm | SampleModel::Attention);
    if text_model {
        if args.n.is_some() {
            return Err(ZooError::usage("--n applies to pictures; give the text's length with --len"));
        }
        let prompt = args.prompt.as_deref().unwrap_or("Call me");
        let (len, temperature) = (args.len.unwrap_or(500), args.temperature.unwrap_or(0.8));
        let text = match args.model {
            SampleModel::Lstm => {
                require_language(run_recipe::<LstmRecipe>(&args.run)?.task == LstmTask::Language, "lstm", &args.run)?;
                language::sample::<LstmRecipe>(&args.run, prompt, len, temperature, args.seed, args.out.as_ref(), &device)?
            }
            _ => {
                require_language(run_recipe::<AttentionRecipe>(&args.run)?.task == AttentionTask::Language, "attention", &args.run)?;
                language::sample::<AttentionRecipe>(&args.run, prompt, len, temperature, args.seed, args.out.as_ref(), &device)?
            }
        };
        println!("{text}");
        return Ok(());
    }
    if args.prompt.is_some() || args.len.is_some() || args.temperature.is_some() {
        return Err(ZooError::usage("--prompt, --len and --temperature apply to the language models (lstm, attention)"));
    }
    let n = args.n.unwrap_or(64);
    if n == 0 {
        return Err(ZooError::usage("--n must be at least 1"));
    }
    let out = args.out.as_deref();
    let written = match args.model {
        SampleModel::Autoencoder => ae::sample(&args.run, n, out, &device)?,
        SampleModel::Vae => vae::sample(&args.run, n, args.seed, out, &device)?,
        _ => gan::sample(&args.run, n, args.seed, args.trained, out, &device)?,
    };
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn require_language(is_language: bool, model: &str, run: &std::path::Path) -> Result<()> {
    if is_language {
        Ok(())
    } else {
        Err(ZooError::usage(format!(
            "{}: this {model} run is not a language model (its recipe's task); `zoo sample {model}` needs a run trained with task Language",
            run.display()
        )))
    }
}

fn pick_device(arg: &DeviceArg) -> Result<(burn::prelude::Device, String)> {
    let name = arg.device.clone().unwrap_or_else(|| device::default_name().to_string());
    Ok((device::select(&name)?, name))
}

/// `--device` of `zoo train`: as given, else, when resuming, the device the run was started on
/// (its `run.json`) if this build has it, else the default. A run started with `--device cpu`
/// thus continues on the CPU in a build that also has wgpu, rather than on wgpu's first
/// adapter, which on a machine without a GPU is a software rasteriser.
fn pick_train_device(arg: &DeviceArg, resume: Option<&std::path::Path>) -> Result<(burn::prelude::Device, String)> {
    // A folder that is not a run gets its clear error from the trainer itself.
    let recorded = resume.filter(|_| arg.device.is_none()).and_then(|run| {
        let text = std::fs::read_to_string(run.join("run.json")).ok()?;
        serde_json::from_str::<zoo_train::run::RunInfo>(&text).ok().map(|info| info.device)
    });
    match recorded {
        Some(name) if device::available().contains(&name.as_str()) => {
            eprintln!("resuming on device {name}, as the run was started (--device or ZOO_DEVICE changes it)");
            Ok((device::select(&name)?, name))
        }
        Some(name) => {
            let (device, default) = pick_device(arg)?;
            eprintln!("the run was started on device {name}, which this build lacks; resuming on {default}");
            Ok((device, default))
        }
        None => pick_device(arg),
    }
}

fn fetch_mnist(dir: Option<std::path::PathBuf>, mirrors: Vec<String>) -> Result<()> {
    use zoo_data::fetch;
    let dest = dir.unwrap_or_else(|| fetch::default_cache_dir().join("mnist"));
    let mirrors = if mirrors.is_empty() {
        fetch::DEFAULT_MIRRORS.iter().map(|m| m.to_string()).collect()
    } else {
        mirrors
    };
    let report = fetch::fetch(&mirrors, &fetch::MNIST_FILES, &dest, true).map_err(ZooError::from)?;
    println!("{report}");
    println!("MNIST is in {}; train on it with --data {}", dest.display(), dest.display());
    Ok(())
}
