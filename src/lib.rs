//! `zoo`: the command-line application. Parsing lives in [`cli`], the device choice in
//! [`device`]; everything else is in the `zoo-train`, `zoo-data` and `zoo-models` crates.
#![recursion_limit = "256"]

pub mod cli;
pub mod device;

use cli::{Cli, Command, DataCommand, Dataset, DeviceArg, Model};
use zoo_train::fit::FitOverrides;
use zoo_train::image::{self, TrainRequest, confusion_table};
use zoo_train::recipes::{CnnRecipe, MODELS, MlpRecipe, default_json};
use zoo_train::{Result, ZooError};

/// Runs `$body` with `$R` bound to the recipe type of `$model`: the one place that maps a
/// model name to its recipe.
macro_rules! with_recipe {
    ($model:expr, $R:ident => $body:expr) => {
        match $model {
            Model::Mlp => {
                type $R = MlpRecipe;
                $body
            }
            Model::Cnn => {
                type $R = CnnRecipe;
                $body
            }
        }
    };
}

/// Runs one parsed command.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train(args) => {
            let (device, device_name) = pick_device(&args.device)?;
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
            with_recipe!(args.model, R => image::train::<R>(&request))?;
            Ok(())
        }
        Command::Eval(args) => {
            let (device, _) = pick_device(&args.device)?;
            let report =
                with_recipe!(args.model, R => image::eval::<R>(&args.run, args.data.as_deref(), &device))?;
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
            let answers =
                with_recipe!(args.model, R => image::predict::<R>(&args.run, &args.files, &device))?;
            for (file, ranked) in answers {
                let classes: Vec<String> =
                    ranked.iter().map(|(c, p)| format!("{c} {:5.1} %", 100.0 * p)).collect();
                println!("{}: {}", file.display(), classes.join("   "));
            }
            Ok(())
        }
        Command::Config { model } => {
            println!("{}", with_recipe!(model, R => default_json::<R>()));
            Ok(())
        }
        Command::List => {
            for (name, about) in MODELS {
                println!("{name:<8} {about}");
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

fn pick_device(arg: &DeviceArg) -> Result<(burn::prelude::Device, String)> {
    let name = arg.device.clone().unwrap_or_else(|| device::default_name().to_string());
    Ok((device::select(&name)?, name))
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
