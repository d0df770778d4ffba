//! Item 9 of the source document: an LSTM of 50 units reads a window of past values and a
//! dense layer predicts the next one. Burn's `Lstm` does the recurrence.

use burn::nn::{Linear, LinearConfig, Lstm, LstmConfig};
use burn::prelude::*;

/// Configuration of [`LstmForecaster`].
#[derive(Config, Debug)]
pub struct LstmForecasterConfig {
    /// Units of the LSTM (the article: 50).
    #[config(default = 50)]
    pub hidden: usize,
}

/// One-step-ahead forecaster of a univariate series.
#[derive(Module, Debug)]
pub struct LstmForecaster {
    lstm: Lstm,
    output: Linear,
}

impl LstmForecasterConfig {
    pub fn init(&self, device: &Device) -> LstmForecaster {
        LstmForecaster {
            lstm: LstmConfig::new(1, self.hidden, true).init(device),
            output: LinearConfig::new(self.hidden, 1).init(device),
        }
    }
}

impl LstmForecaster {
    /// The next value after each window.
    ///
    /// # Shapes
    /// - windows: `[batch, steps]`, normalised values, oldest first
    /// - output: `[batch]`
    pub fn forward(&self, windows: Tensor<2>) -> Tensor<1> {
        let [batch, steps] = windows.dims();
        let (_, state) = self.lstm.forward(windows.reshape([batch, steps, 1]), None);
        self.output.forward(state.hidden).reshape([batch]) // [batch, hidden] -> [batch]
    }
}
