//! Weights in and out of zoo through burn-store: PyTorch state dicts (`.pt`, `.pth`, also under
//! a `state_dict` key) and safetensors files, read with PyTorch's names and layouts (a linear
//! layer's `[out, in]` weight, batch norm's `weight`/`bias`) mapped to Burn's, and written the
//! same way back, so `torch.nn.Module.load_state_dict` of the same architecture loads them.
//! The numbered layers of a PyTorch `Sequential` (`features.0`, `features.2`, ... with the
//! activations between them unnumbered in the file) map onto a list's contiguous indices.

use std::path::Path;

use burn::module::Module;
use burn::store::{
    ApplyError, ApplyResult, BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
};

use crate::error::{Result, ZooError};

/// Whose parameter names an exported file uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Names {
    /// PyTorch's (`weight`/`bias` of a norm, `[out, in]` linear weights): loads into PyTorch.
    Pytorch,
    /// zoo's own (Burn's names and layouts).
    Burn,
}

/// Writes `module`'s weights to `path` as safetensors with `names`.
pub fn export_safetensors<M: Module>(module: &M, path: &Path, names: Names) -> Result<()> {
    let mut store = SafetensorsStore::from_file(path).skip_enum_variants(true).overwrite(true);
    if names == Names::Pytorch {
        store = store.with_to_adapter(BurnToPyTorchAdapter);
    }
    module
        .valid()
        .save_into(&mut store)
        .map_err(|e| ZooError::runtime(format!("{}: cannot write ({e})", path.display())))
}

/// `module` with its weights read from `path` (`.pt`, `.pth` or `.safetensors`, PyTorch's names
/// and layouts). Every parameter must be in the file with its shape, and the file must hold no
/// other weights; otherwise one error lists what is missing, unexpected and wrongly shaped, and
/// nothing is loaded.
pub fn import<M: Module>(module: M, path: &Path) -> Result<M> {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    let failed = |e: &dyn std::fmt::Display| ZooError::usage(format!("{}: cannot read weights ({e})", path.display()));
    if path.is_dir() {
        return Err(ZooError::usage(format!(
            "{}: is a folder; --init-from takes a .pt, .pth or .safetensors file (a zoo run's backbone goes to `zoo train transfer --from RUN`)",
            path.display()
        )));
    }
    if !path.is_file() {
        return Err(ZooError::usage(format!(
            "{}: no such weights file; give a .pt, .pth or .safetensors file",
            path.display()
        )));
    }
    let (loaded, result) = match extension.as_str() {
        "pt" | "pth" => {
            let load = |key: Option<&str>| {
                let mut store = PytorchStore::from_file(path).allow_partial(true).validate(false);
                if let Some(key) = key {
                    store = store.with_top_level_key(key);
                }
                let mut copy = module.clone();
                copy.load_from(&mut store).map(|result| (copy, result))
            };
            // A checkpoint that nests its weights under `state_dict` is read from there.
            match load(None) {
                Ok((copy, result)) if !result.applied.is_empty() => (copy, result),
                first => match load(Some("state_dict")) {
                    Ok((copy, result)) if !result.applied.is_empty() => (copy, result),
                    _ => first.map_err(|e| failed(&e))?,
                },
            }
        }
        "safetensors" => {
            let mut store = SafetensorsStore::from_file(path)
                .with_from_adapter(PyTorchToBurnAdapter)
                .skip_enum_variants(true)
                // torchvision numbers a Sequential's layers with gaps (features.0, .2, .5);
                // Burn numbers a list's contiguously.
                .map_indices_contiguous(true)
                .allow_partial(true)
                .validate(false);
            let mut copy = module.clone();
            let result = copy.load_from(&mut store).map_err(|e| failed(&e))?;
            (copy, result)
        }
        _ => {
            return Err(ZooError::usage(format!(
                "{}: unknown weights format; give a .pt, .pth (PyTorch) or .safetensors file",
                path.display()
            )));
        }
    };
    match mismatch(&result) {
        None => Ok(loaded),
        Some(what) => Err(ZooError::usage(format!(
            "{}: does not fit the model ({what}); the file's names must be the model's (`zoo export --names pytorch` shows them), renamed beforehand if they differ",
            path.display()
        ))),
    }
}

/// What keeps a load from being whole: missing, unexpected and wrongly shaped keys.
fn mismatch(result: &ApplyResult) -> Option<String> {
    let list = |keys: Vec<String>| {
        let shown: Vec<String> = keys.iter().take(6).cloned().collect();
        let more = if keys.len() > 6 { format!(" and {} more", keys.len() - 6) } else { String::new() };
        format!("{}{more}", shown.join(", "))
    };
    let mut parts = Vec::new();
    let missing: Vec<String> = result.missing.iter().map(|(path, _)| path.clone()).collect();
    if !missing.is_empty() {
        parts.push(format!("missing {}", list(missing)));
    }
    // PyTorch's batch norm counts its batches; Burn's has no such parameter.
    let unexpected: Vec<String> =
        result.unused.iter().filter(|k| !k.ends_with("num_batches_tracked")).cloned().collect();
    if !unexpected.is_empty() {
        parts.push(format!("unexpected {}", list(unexpected)));
    }
    let errors: Vec<String> = result
        .errors
        .iter()
        .map(|e| match e {
            ApplyError::ShapeMismatch { path, expected, found } => {
                format!("{path} is {:?} in the file, {:?} in the model", found.to_vec(), expected.to_vec())
            }
            other => other.to_string(),
        })
        .collect();
    if !errors.is_empty() {
        parts.push(format!("wrong shape or type: {}", list(errors)));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}
