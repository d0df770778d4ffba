//! `zoo`: the command-line application. Parsing lives in [`cli`], the models in
//! [`registry`], what each command does for each kind of model in [`commands`], the device
//! choice in [`device`]; everything else is in the `zoo-train`, `zoo-data` and `zoo-models`
//! crates.
#![recursion_limit = "256"]

pub mod cli;
pub mod commands;
pub mod device;
pub mod registry;
pub mod serve;
pub mod worker;

use cli::{Cli, Command, DataCommand, Dataset, EvalArgs, SampleArgs, TrainArgs};
use registry::Verb;
use zoo_train::{Result, ZooError};

/// Runs one parsed command.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train(args) => {
            let entry = registry::find(&args.model, Verb::Train)?;
            entry.check_flags(Verb::Train, &train_flags(&args))?;
            (entry.train)(args)
        }
        Command::Eval(args) => {
            let entry = registry::find(&args.model, Verb::Eval)?;
            entry.check_flags(Verb::Eval, &eval_flags(&args))?;
            entry.eval.map_or(Ok(()), |eval| eval(args))
        }
        Command::Sample(args) => {
            let entry = registry::find(&args.model, Verb::Sample)?;
            entry.check_flags(Verb::Sample, &sample_flags(&args))?;
            entry.sample.map_or(Ok(()), |sample| sample(args))
        }
        Command::Predict(args) => {
            let entry = registry::find(&args.model, Verb::Predict)?;
            entry.check_flags(Verb::Predict, &predict_flags(&args))?;
            entry.predict.map_or(Ok(()), |predict| predict(args))
        }
        Command::Play(args) => {
            let entry = registry::find(&args.model, Verb::Play)?;
            entry.play.map_or(Ok(()), |play| play(args))
        }
        Command::Compare(args) => commands::compare(args),
        Command::Export(args) => {
            let entry = registry::find(&args.model, Verb::Export)?;
            entry.export.map_or(Ok(()), |export| export(args))
        }
        Command::Cv(args) => {
            let entry = registry::find(&args.model, Verb::Cv)?;
            entry.cv.map_or(Ok(()), |cv| cv(args))
        }
        Command::Serve(args) => serve::serve(args),
        Command::Config { model } => {
            println!("{}", (registry::find(&model, Verb::Train)?.config)());
            Ok(())
        }
        Command::Worker(args) => worker::worker(args),
        Command::Devices => {
            print!("{}", device::report());
            Ok(())
        }
        Command::List => {
            for entry in registry::models() {
                println!("{:<12} {}  [{}]", entry.name, entry.summary, entry.verbs());
            }
            Ok(())
        }
        Command::Explain { topic } => {
            let name = clap::ValueEnum::to_possible_value(&topic).map(|v| v.get_name().to_string());
            let text = zoo_primitives::explain(name.as_deref().unwrap_or_default()).map_err(ZooError::usage)?;
            print!("{text}");
            Ok(())
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "zoo", &mut std::io::stdout());
            Ok(())
        }
        Command::Man { dir } => man_pages(dir.as_deref()),
        Command::Data { command: DataCommand::Fetch { dataset: Dataset::Mnist, dir, mirror } } => {
            fetch_mnist(dir, mirror)
        }
    }
}

/// The model-specific flags given to `zoo predict`.
fn predict_flags(args: &cli::PredictArgs) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if args.out.is_some() {
        flags.push("--out");
    }
    if !args.text.is_empty() {
        flags.push("--text");
    }
    flags
}

/// The model-specific flags given to `zoo train`.
fn train_flags(args: &TrainArgs) -> Vec<&'static str> {
    let given = [
        (args.epochs.is_some(), "--epochs"),
        (args.steps.is_some(), "--steps"),
        (args.episodes.is_some(), "--episodes"),
        (args.batch_size.is_some(), "--batch-size"),
        (args.lr.is_some(), "--lr"),
        (args.seed.is_some(), "--seed"),
        (args.limit.is_some(), "--limit"),
        (args.data.is_some(), "--data"),
        (args.text_field.is_some(), "--text-field"),
        (args.label_field.is_some(), "--label-field"),
        (args.from.is_some(), "--from"),
        (args.init_from.is_some(), "--init-from"),
        (args.season.is_some(), "--season"),
        (args.devices.is_some(), "--devices"),
    ];
    given.into_iter().filter_map(|(given, flag)| given.then_some(flag)).collect()
}

/// The model-specific flags given to `zoo eval`.
fn eval_flags(args: &EvalArgs) -> Vec<&'static str> {
    let given = [
        (args.data.is_some(), "--data"),
        (args.episodes.is_some(), "--episodes"),
        (args.seed.is_some(), "--seed"),
        (args.judge.is_some(), "--judge"),
        (args.samples.is_some(), "--samples"),
        (args.trained, "--trained"),
        (args.train_split, "--train-split"),
        (args.images.is_some(), "--images"),
    ];
    given.into_iter().filter_map(|(given, flag)| given.then_some(flag)).collect()
}

/// The model-specific flags given to `zoo sample` (`--seed` has a default, so it always
/// applies where noise or characters are drawn).
fn sample_flags(args: &SampleArgs) -> Vec<&'static str> {
    let given = [
        (args.n.is_some(), "--n"),
        (args.trained, "--trained"),
        (args.digit.is_some(), "--digit"),
        (args.prompt.is_some(), "--prompt"),
        (args.len.is_some(), "--len"),
        (args.temperature.is_some(), "--temperature"),
        (args.augmented, "--augmented"),
        (args.config.is_some(), "--config"),
        (args.data.is_some(), "--data"),
    ];
    given.into_iter().filter_map(|(given, flag)| given.then_some(flag)).collect()
}

/// `zoo man`: the man page on stdout, or every command's page into `dir`.
fn man_pages(dir: Option<&std::path::Path>) -> Result<()> {
    let command = <Cli as clap::CommandFactory>::command();
    let failed = |e: std::io::Error| ZooError::runtime(format!("writing the man page: {e}"));
    match dir {
        None => clap_mangen::Man::new(command).render(&mut std::io::stdout()).map_err(failed),
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| {
                ZooError::usage(format!("{}: cannot create the folder ({e}); check --dir", dir.display()))
            })?;
            clap_mangen::generate_to(command, dir).map_err(failed)?;
            println!("wrote the man pages into {}; read them with `man -l {}/zoo.1`", dir.display(), dir.display());
            Ok(())
        }
    }
}

fn fetch_mnist(dir: Option<std::path::PathBuf>, mirrors: Vec<String>) -> Result<()> {
    use zoo_data::fetch;
    let dest = dir.unwrap_or_else(|| fetch::default_cache_dir().join("mnist"));
    let mirrors =
        if mirrors.is_empty() { fetch::DEFAULT_MIRRORS.iter().map(|m| m.to_string()).collect() } else { mirrors };
    let report = fetch::fetch(&mirrors, &fetch::MNIST_FILES, &dest, true).map_err(ZooError::from)?;
    println!("{report}");
    println!("MNIST is in {}; train on it with --data {}", dest.display(), dest.display());
    Ok(())
}
