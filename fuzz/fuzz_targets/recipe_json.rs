//! Recipe files (`--config`) and a run's `config.json`, laid over the defaults.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zoo_train::recipes::{CnnRecipe, MlpRecipe, load_recipe, read_run_recipe};

#[path = "scratch.rs"]
mod scratch;

fuzz_target!(|data: &[u8]| {
    let path = scratch::scratch().join("recipe.json");
    std::fs::write(&path, data).unwrap();
    let _ = load_recipe::<MlpRecipe>(&path);
    let _ = read_run_recipe::<CnnRecipe>(&path);
});
