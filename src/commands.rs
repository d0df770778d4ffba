//! What each command does for each kind of model: parse nothing, decide nothing about which
//! model it is (the registry did), call `zoo_train` and print what it returns.

use std::path::{Path, PathBuf};

use zoo_train::classifier::ClassifierRecipe;
use zoo_train::fit::FitOverrides;
use zoo_train::generative::{autoencoder, gan, vae};
use zoo_train::image::{self, TrainRequest, confusion_table};
use zoo_train::image_training::{self, ImageRecipe};
use zoo_train::language::{self, LanguageRecipe};
use zoo_train::rl::dqn;
use zoo_train::rl::qlearning;
use zoo_train::rl::{ReturnStats, RlTrainRequest, play};
use zoo_train::textclass::{self, FieldOverrides};
use zoo_train::{Result, ZooError, crossmodal, cv, forecast, multitask};

use crate::cli::{
    CompareArgs, CvArgs, DeviceArg, EvalArgs, ExportArgs, PlayArgs, PredictArgs, SampleArgs, TrainArgs, WeightNames,
    WeightsFormat,
};
use crate::device;

/// The request of an epoch-based `zoo train`.
fn train_request(args: TrainArgs) -> Result<TrainRequest> {
    let recorded = recorded_device(&args.device, args.resume.as_deref());
    // A run started on several devices resumes on them (run.json records `cpu,ndarray`).
    let recorded_list = recorded.as_ref().filter(|r| r.contains(',')).map(|list| {
        eprintln!("resuming on devices {list}, as the run was started (--device or --devices changes it)");
        list.clone()
    });
    let (device, device_name, replicas) = match args.devices.clone().or(recorded_list) {
        Some(list) => pick_devices(&list)?,
        None => {
            let (device, name) = pick_train_device(&args.device, recorded)?;
            (device, name, Vec::new())
        }
    };
    Ok(TrainRequest {
        config_file: args.config,
        sets: args.set,
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
        replicas,
        from: args.from,
        init_from: args.init_from,
    })
}

/// `zoo cv <classifier>`: k-fold cross-validation.
pub fn cv_classifier<R: ClassifierRecipe>(args: CvArgs) -> Result<()> {
    let folds = args.folds;
    let train = train_request(TrainArgs {
        model: args.model,
        config: args.config,
        set: args.set,
        epochs: args.epochs,
        steps: None,
        episodes: None,
        batch_size: args.batch_size,
        lr: args.lr,
        seed: args.seed,
        limit: args.limit,
        data: args.data,
        text_field: None,
        label_field: None,
        season: None,
        run_dir: args.run_dir,
        resume: args.resume,
        device: args.device,
        devices: None,
        from: None,
        init_from: None,
    })?;
    cv::cross_validate::<R>(&cv::CvRequest { train, folds }).map(|_| ())
}

/// `zoo export <classifier>`: the run's weights as safetensors and its recipe beside them.
pub fn export_classifier<R: ClassifierRecipe>(args: ExportArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    let names = match args.names {
        WeightNames::Pytorch => zoo_train::weights::Names::Pytorch,
        WeightNames::Burn => zoo_train::weights::Names::Burn,
    };
    let WeightsFormat::Safetensors = args.format;
    let written = image::export::<R>(&args.run, names, args.out.as_deref(), &device)?;
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// `zoo compare RUN...`: a table of the runs' figures and one picture of their curves.
pub fn compare(args: CompareArgs) -> Result<()> {
    let out = args.out.unwrap_or_else(|| PathBuf::from("compare.png"));
    let figures = zoo_train::compare::compare(&args.runs, &args.metric, &out)?;
    println!("{}", zoo_train::compare::table(&figures, &args.metric));
    println!("wrote {}", out.display());
    Ok(())
}

pub fn train_image<R: ImageRecipe>(args: TrainArgs) -> Result<()> {
    image_training::train::<R>(&train_request(args)?).map(|_| ())
}

pub fn train_language<R: LanguageRecipe>(args: TrainArgs) -> Result<()> {
    language::train::<R>(&train_request(args)?).map(|_| ())
}

pub fn train_forecast(mut args: TrainArgs) -> Result<()> {
    // `--season N` is the recipe field forecast.season.
    if let Some(season) = args.season.take() {
        args.set.push(format!("forecast.season={season}"));
    }
    forecast::train(&train_request(args)?).map(|_| ())
}

pub fn train_attention(args: TrainArgs) -> Result<()> {
    let fields = FieldOverrides { text_field: args.text_field.clone(), label_field: args.label_field.clone() };
    textclass::train(&train_request(args)?, &fields).map(|_| ())
}

/// The request of `zoo train dqn|qlearning`; `device` is None for the tabular learner.
fn rl_request(args: TrainArgs, device: Option<(burn::prelude::Device, String)>) -> RlTrainRequest {
    let (device, device_name) = match device {
        Some((device, name)) => (Some(device), name),
        None => (None, "none (tabular)".to_string()),
    };
    RlTrainRequest {
        config_file: args.config,
        sets: args.set,
        steps: args.steps,
        episodes: args.episodes,
        seed: args.seed,
        learning_rate: args.lr,
        batch_size: args.batch_size,
        run_dir: args.run_dir,
        resume: args.resume,
        device,
        device_name,
    }
}

pub fn train_dqn(args: TrainArgs) -> Result<()> {
    let device = pick_train_device(&args.device, recorded_device(&args.device, args.resume.as_deref()))?;
    dqn::train(&rl_request(args, Some(device))).map(|_| ())
}

pub fn train_qlearning(args: TrainArgs) -> Result<()> {
    // Q-learning is a table: no tensors, no device.
    qlearning::train(&rl_request(args, None)).map(|_| ())
}

pub fn eval_classifier<R: ClassifierRecipe>(args: EvalArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    let run = args.run_dir()?;
    let split = if args.train_split { zoo_data::Split::Train } else { zoo_data::Split::Test };
    let report = image::eval::<R>(run, args.data.as_deref(), split, &device)?;
    let set = if args.train_split { "training set" } else { "test set" };
    println!("{} {}: {set} of {} images from {}", report.model, run.display(), report.images, report.data);
    let top5 = report.top5_accuracy.map(|top5| format!("  top-5 {top5:.2} %")).unwrap_or_default();
    println!("loss {:.4}  accuracy {:.2} %{top5}", report.loss, report.accuracy);
    println!("confusion matrix (rows: true class, columns: predicted class)");
    print!("{}", confusion_table(&report.confusion));
    Ok(())
}

pub fn predict_classifier<R: ClassifierRecipe>(args: PredictArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    let files: Vec<PathBuf> = args.inputs.iter().map(PathBuf::from).collect();
    for (file, ranked) in image::predict::<R>(&args.run, &files, &device)? {
        let classes: Vec<String> = ranked.iter().map(|(c, p)| format!("{c} {:5.1} %", 100.0 * p)).collect();
        println!("{}: {}", file.display(), classes.join("   "));
    }
    Ok(())
}

pub fn eval_dqn(args: EvalArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    let run = args.run_dir()?;
    print_returns(run, &dqn::eval(run, args.episodes.unwrap_or(100), args.seed.unwrap_or(0), &device)?);
    Ok(())
}

pub fn eval_qlearning(args: EvalArgs) -> Result<()> {
    let run = args.run_dir()?;
    let (stats, table) = qlearning::eval(run, args.episodes.unwrap_or(100), args.seed.unwrap_or(0))?;
    let optimal = table.optimal.iter().filter(|o| **o).count();
    println!("greedy policy optimal from {optimal} of {} interior states", table.optimal.len());
    print_returns(run, &stats);
    Ok(())
}

fn print_returns(run: &Path, stats: &ReturnStats) {
    println!(
        "{} {}: {} greedy episodes of {} (starts seeded {}): return {:.1} ± {:.1} (min {}, max {})",
        stats.model,
        run.display(),
        stats.episodes,
        stats.environment,
        stats.seed,
        stats.mean,
        stats.std,
        stats.min,
        stats.max
    );
}

pub fn play_dqn(args: PlayArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    play::play(&args.run, args.seed, args.fps, &device).map(|_| ())
}

pub fn eval_language<R: LanguageRecipe>(args: EvalArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    let run = args.run_dir()?;
    let r = language::eval::<R>(run, &device)?;
    println!("{} {}: {} held-out characters of {} ({})", r.model, run.display(), r.valid_chars, r.text, r.reading);
    println!(
        "validation loss {:.4} nats per character ({:.3} bits per character, perplexity {:.2})",
        r.nats_per_char,
        r.bits_per_char,
        r.nats_per_char.exp()
    );
    println!("next character: the top guess {:.2} %, among the five best {:.2} %", r.accuracy, r.top5_accuracy);
    Ok(())
}

pub fn sample_language<R: LanguageRecipe>(args: SampleArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    let prompt = args.prompt.as_deref().unwrap_or("Call me");
    let (len, temperature) = (args.len.unwrap_or(500), args.temperature.unwrap_or(0.8));
    let text = language::sample::<R>(args.run_dir()?, prompt, len, temperature, args.seed, args.out.as_ref(), &device)?;
    println!("{text}");
    Ok(())
}

pub fn eval_attention(args: EvalArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    let run = args.run_dir()?;
    let r = textclass::eval(run, &device)?;
    println!(
        "{} {}: {} test chunks from {} documents of {} ({})",
        args.model,
        run.display(),
        r.test_chunks,
        r.test_documents,
        r.data,
        r.labels.join(" vs ")
    );
    println!("{:<52} {:>10} {:>10}", "method", "test", "valid");
    for m in &r.methods {
        println!("{:<52} {:>9.2}% {:>9.2}%", m.method, 100.0 * m.test_accuracy, 100.0 * m.valid_accuracy);
    }
    println!("the transformer on the test chunks, per class:");
    println!("{:<24} {:>10} {:>10} {:>10} {:>8} {:>8}", "class", "precision", "recall", "F1", "AUROC", "chunks");
    for c in &r.per_class {
        let auroc = c.auroc.map_or("-".to_string(), |a| format!("{a:.4}"));
        println!(
            "{:<24} {:>9.2}% {:>9.2}% {:>9.2}% {:>8} {:>8}",
            c.label,
            100.0 * c.precision,
            100.0 * c.recall,
            100.0 * c.f1,
            auroc,
            c.support
        );
    }
    println!("macro F1 {:.2} %", 100.0 * r.macro_f1);
    Ok(())
}

pub fn predict_attention(args: PredictArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    let answers = textclass::predict(&args.run, &args.inputs, 8, &device)?;
    for (text, a) in args.inputs.iter().zip(answers) {
        let shown: String = if text.chars().count() > 60 {
            format!("{}...", text.chars().take(57).collect::<String>())
        } else {
            text.clone()
        };
        let classes: Vec<String> = a.probabilities.iter().map(|(c, p)| format!("{c} {:5.1} %", 100.0 * p)).collect();
        println!("\"{shown}\": {}", classes.join("   "));
        if a.used_words < a.words {
            println!("  (read the first {} of {} words)", a.used_words, a.words);
        }
        let tokens: Vec<String> = a.top_tokens.iter().map(|(w, x)| format!("{w} {x:.3}")).collect();
        println!("  most attended: {}", tokens.join(", "));
    }
    Ok(())
}

pub fn eval_forecast(args: EvalArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    let run = args.run_dir()?;
    let r = forecast::eval(run, &device)?;
    println!(
        "{} {}: {} test steps of {}; multi-step horizon {}; season {} ({})",
        args.model,
        run.display(),
        r.test_steps,
        r.series,
        r.horizon,
        r.period,
        r.season_reason
    );
    println!("{:<16} {:>12} {:>12} {:>14} {:>14}", "method", "1-step RMSE", "1-step MAE", "multi RMSE", "multi MAE");
    for m in &r.methods {
        println!(
            "{:<16} {:>12.3} {:>12.3} {:>14.3} {:>14.3}",
            m.method, m.one_step_rmse, m.one_step_mae, m.multi_step_rmse, m.multi_step_mae
        );
    }
    let (lstm, seasonal) = (&r.methods[0], &r.methods[2]);
    println!(
        "one-step RMSE {:.1} % below seasonal naive; forecast against truth in {}",
        100.0 * (1.0 - lstm.one_step_rmse / seasonal.one_step_rmse),
        run.join("forecast.png").display()
    );
    Ok(())
}

pub fn eval_autoencoder(args: EvalArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    let run = args.run_dir()?;
    let r = autoencoder::eval(run, args.data.as_deref(), &device)?;
    println!("{} {}: test set of {} images from {}", args.model, run.display(), r.images, r.data);
    println!("binary cross-entropy {:.4} nats per pixel  (mean squared error {:.4})", r.bce_per_pixel, r.mse_per_pixel);
    Ok(())
}

pub fn eval_vae(args: EvalArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    let run = args.run_dir()?;
    let r = vae::eval(run, args.data.as_deref(), &device)?;
    println!("{} {}: test set of {} images from {}", args.model, run.display(), r.images, r.data);
    println!(
        "negative ELBO {:.2} nats per image = reconstruction {:.2} + KL {:.2}  (latent {}, one sampled code per image)",
        r.negative_elbo, r.reconstruction, r.kl, r.latent
    );
    Ok(())
}

pub fn eval_gan(args: EvalArgs) -> Result<()> {
    let Some(judge) = &args.judge else {
        return Err(ZooError::usage(
            "zoo eval gan needs --judge CNN_RUN, a run of `zoo train cnn` trained on the same kind of images",
        ));
    };
    let (device, _) = pick_device(&args.device)?;
    let r = match &args.images {
        Some(file) => {
            let r = zoo_train::generative::judge::eval_file(file, judge, args.samples, &device)?;
            println!("{} {} judged by {}", r.generated, r.generator, r.judge);
            r
        }
        None => {
            let run = args.run_dir()?;
            let r = gan::judge_eval(
                run,
                judge,
                args.samples.unwrap_or(10_000),
                args.seed.unwrap_or(0),
                args.trained,
                &device,
            )?;
            println!(
                "{} {}: {} images from its {} generator judged by {}",
                args.model,
                run.display(),
                r.generated,
                r.generator,
                r.judge
            );
            r
        }
    };
    println!(
        "Fréchet distance to the test set {:.2} (real training images: {:.2}; ratio {:.2})",
        r.frechet_distance, r.frechet_floor, r.ratio
    );
    println!("classified with ≥ 90 % confidence: {:.1} %", r.confident_percent);
    let classes: Vec<String> = r.class_percent.iter().enumerate().map(|(c, p)| format!("{c}: {p:.1} %")).collect();
    println!("classes: {}", classes.join("  "));
    if !r.asked_percent.is_empty() {
        let asked: Vec<String> = r.asked_percent.iter().enumerate().map(|(c, p)| format!("{c}: {p:.1} %")).collect();
        println!("asked for a digit, judged that digit: {}", asked.join("  "));
    }
    Ok(())
}

/// `--n` of `zoo sample`: at least one picture.
fn pictures(args: &SampleArgs) -> Result<usize> {
    match args.n.unwrap_or(64) {
        0 => Err(ZooError::usage("--n must be at least 1")),
        n => Ok(n),
    }
}

fn print_written(written: Vec<PathBuf>) {
    for path in written {
        println!("wrote {}", path.display());
    }
}

/// `zoo sample <classifier> --augmented`: a grid of training images under the recipe's
/// augmentation, from a run or from a recipe before training.
pub fn sample_augmented<R: ClassifierRecipe>(args: SampleArgs) -> Result<()> {
    if !args.augmented {
        return Err(ZooError::usage(format!(
            "zoo sample {} draws augmented training images: add --augmented",
            args.model
        )));
    }
    print_written(vec![image::sample_augmented::<R>(
        args.run.as_deref(),
        args.config.as_deref(),
        args.data.as_deref(),
        pictures(&args)?,
        args.seed,
        args.out.as_deref(),
    )?]);
    Ok(())
}

pub fn sample_autoencoder(args: SampleArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    print_written(autoencoder::sample(args.run_dir()?, pictures(&args)?, args.out.as_deref(), &device)?);
    Ok(())
}

pub fn sample_vae(args: SampleArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    print_written(vae::sample(args.run_dir()?, pictures(&args)?, args.seed, args.out.as_deref(), &device)?);
    Ok(())
}

pub fn sample_gan(args: SampleArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    if let Some(digit) = args.digit.filter(|d| *d > 9) {
        return Err(ZooError::usage(format!("--digit {digit}: give a digit from 0 to 9")));
    }
    print_written(gan::sample(
        args.run_dir()?,
        pictures(&args)?,
        args.seed,
        args.trained,
        args.digit,
        args.out.as_deref(),
        &device,
    )?);
    Ok(())
}

/// `--device` as given, else the default: a physical GPU when the build has a GPU backend and
/// finds one, else the CPU.
pub fn pick_device(arg: &DeviceArg) -> Result<(burn::prelude::Device, String)> {
    let (device, name) = match &arg.device {
        Some(name) => (device::select(name)?, name.clone()),
        None => device::select_default()?,
    };
    zoo_train::run::set_device_description(device::describe(&name, &device));
    Ok((device, name))
}

/// The device a run was started with (its `run.json`: `cpu`, or `cpu,ndarray` for `--devices`),
/// when it is resumed without `--device`. A folder that is not a run gives none here and its
/// clear error from the trainer itself.
fn recorded_device(arg: &DeviceArg, resume: Option<&Path>) -> Option<String> {
    let run = resume.filter(|_| arg.device.is_none())?;
    let text = std::fs::read_to_string(run.join("run.json")).ok()?;
    serde_json::from_str::<zoo_train::run::RunInfo>(&text).ok().map(|info| info.device)
}

/// `--devices LIST`: the main device, the list's names as `run.json` records them
/// (`cpu,ndarray`, which `--resume` reads back) and the other devices.
fn pick_devices(list: &str) -> Result<(burn::prelude::Device, String, Vec<burn::prelude::Device>)> {
    let mut devices = device::select_list(list)?;
    let names: Vec<String> = devices.iter().map(|(_, name)| name.clone()).collect();
    let described: Vec<String> = devices.iter().map(|(device, name)| device::describe(name, device)).collect();
    zoo_train::run::set_device_description(described.join(" + "));
    let (main, _) = devices.remove(0);
    Ok((main, names.join(","), devices.into_iter().map(|(device, _)| device).collect()))
}

/// `--device` of `zoo train`: as given, else, when resuming, the device the run was started on
/// (`recorded`, from [`recorded_device`]) if this build has it, else the default. A run started
/// with `--device cpu` thus continues on the CPU in a build that also has wgpu, rather than on
/// wgpu's first adapter, which on a machine without a GPU is a software rasteriser.
fn pick_train_device(arg: &DeviceArg, recorded: Option<String>) -> Result<(burn::prelude::Device, String)> {
    match recorded {
        Some(name) if device::accepts(&name) => {
            eprintln!("resuming on device {name}, as the run was started (--device or ZOO_DEVICE changes it)");
            let device = device::select(&name)?;
            zoo_train::run::set_device_description(device::describe(&name, &device));
            Ok((device, name))
        }
        Some(name) => {
            let (device, default) = pick_device(arg)?;
            eprintln!("the run was started on device {name}, which this build lacks; resuming on {default}");
            Ok((device, default))
        }
        None => pick_device(arg),
    }
}

pub fn eval_multitask(args: EvalArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    let run = args.run_dir()?;
    let report = multitask::eval(run, args.data.as_deref(), &device)?;
    println!("{} {}: {} test canvases from {}", report.model, run.display(), report.canvases, report.data);
    println!(
        "class accuracy {:.2} %  mean IoU {:.4}  IoU > 0.5 on {:.2} %",
        report.accuracy, report.mean_iou, report.iou_above_half
    );
    for (size, count, accuracy, iou) in &report.by_size {
        println!("  digits {size:>16}: {count:>5} canvases, class accuracy {accuracy:.2} %, mean IoU {iou:.4}");
    }
    Ok(())
}

pub fn predict_multitask(args: PredictArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    let files: Vec<PathBuf> = args.inputs.iter().map(PathBuf::from).collect();
    for found in multitask::predict(&args.run, &files, args.out.as_deref(), &device)? {
        let [x0, y0, x1, y1] = found.bounds;
        println!(
            "{}: {} ({:.1} %) at x {x0:.0}-{x1:.0}, y {y0:.0}-{y1:.0} px",
            found.file.display(),
            found.class,
            100.0 * found.probability
        );
    }
    if let Some(out) = &args.out {
        println!("wrote {}", out.display());
    }
    Ok(())
}

pub fn sample_multitask(args: SampleArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    print_written(multitask::sample(args.run_dir()?, pictures(&args)?, args.out.as_deref(), &device)?);
    Ok(())
}

pub fn eval_crossmodal(args: EvalArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    let run = args.run_dir()?;
    let report = crossmodal::eval(run, args.data.as_deref(), &device)?;
    println!(
        "{} {}: {} test pairs of {} images from {}",
        report.model,
        run.display(),
        report.pairs,
        report.images,
        report.data
    );
    println!("match accuracy {:.2} % (chance 50 %)", report.accuracy);
    for cell in &report.cells {
        println!("  {:<8} {:<9} {:>6} pairs  {:.2} %", cell.language, cell.phrasing, cell.pairs, cell.accuracy);
    }
    println!(
        "zero-shot classification (best of a template's ten captions) and retrieval (1,000 images ranked per caption):"
    );
    // The template last: Chinese characters are two columns wide on a terminal.
    println!("  {:>9} {:>7} {:>7} {:>7}  template", "zero-shot", "R@1", "R@10", "P@10");
    for t in &report.templates {
        let held_out = if t.held_out { "  (held out)" } else { "" };
        println!(
            "  {:>8.2}% {:>6.1}% {:>6.1}% {:>6.1}%  {}{held_out}",
            t.zero_shot, t.recall_at_1, t.recall_at_10, t.precision_at_10, t.template
        );
    }
    Ok(())
}

pub fn predict_crossmodal(args: PredictArgs) -> Result<()> {
    let (device, _) = pick_device(&args.device)?;
    let files: Vec<PathBuf> = args.inputs.iter().map(PathBuf::from).collect();
    let picture = crossmodal::one_picture(&files)?;
    for (text, probability) in crossmodal::predict(&args.run, picture, &args.text, &device)? {
        println!("{:5.1} %  {text}", 100.0 * probability);
    }
    Ok(())
}
