//! Two tiny containers, so that the algorithms can be written as plain loops.
//!
//! * [`Tensor4`]: an `f32` image batch in NCHW order (batch, channels, height, width), the
//!   layout Burn and PyTorch use for `conv2d` and pooling. Convolution weights use the same type
//!   with the shape `[out_ch, in_ch, kh, kw]`.
//! * [`Matrix`]: a row-major `f64` matrix for the backpropagation examples. They run in `f64` so
//!   that finite-difference checks of the hand-written gradients are sharp (in `f32` a central
//!   difference is only good to about three digits).

/// A 4-D `f32` tensor stored contiguously, last index fastest (row-major NCHW).
///
/// The element at `[n, c, h, w]` lives at `((n * C + c) * H + h) * W + w`.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor4 {
    pub data: Vec<f32>,
    pub shape: [usize; 4],
}

impl Tensor4 {
    /// Wraps `data`; panics if its length is not the product of `shape`.
    pub fn new(data: Vec<f32>, shape: [usize; 4]) -> Self {
        let expected: usize = shape.iter().product();
        assert_eq!(
            data.len(),
            expected,
            "Tensor4::new: {} values do not fill a {:?} tensor ({} values)",
            data.len(),
            shape,
            expected
        );
        Self { data, shape }
    }

    /// A tensor of zeros.
    pub fn zeros(shape: [usize; 4]) -> Self {
        Self::new(vec![0.0; shape.iter().product()], shape)
    }

    /// Builds a tensor by calling `f([n, c, h, w])` for every index, in storage order.
    pub fn from_fn(shape: [usize; 4], mut f: impl FnMut([usize; 4]) -> f32) -> Self {
        let mut data = Vec::with_capacity(shape.iter().product());
        for n in 0..shape[0] {
            for c in 0..shape[1] {
                for h in 0..shape[2] {
                    for w in 0..shape[3] {
                        data.push(f([n, c, h, w]));
                    }
                }
            }
        }
        Self::new(data, shape)
    }

    /// One single-channel image (or one 2-D kernel) from its rows: shape `[1, 1, rows, cols]`.
    /// Panics if the rows have different lengths.
    pub fn from_rows(rows: &[&[f32]]) -> Self {
        let h = rows.len();
        let w = rows.first().map_or(0, |r| r.len());
        assert!(rows.iter().all(|r| r.len() == w), "Tensor4::from_rows: ragged rows");
        Self::new(rows.concat(), [1, 1, h, w])
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the tensor holds no element.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Position of `[n, c, h, w]` in `data`.
    pub fn offset(&self, [n, c, h, w]: [usize; 4]) -> usize {
        let [_, cs, hs, ws] = self.shape;
        debug_assert!(n < self.shape[0] && c < cs && h < hs && w < ws);
        ((n * cs + c) * hs + h) * ws + w
    }

    /// The value at `[n, c, h, w]`.
    pub fn at(&self, index: [usize; 4]) -> f32 {
        self.data[self.offset(index)]
    }

    /// Sets the value at `[n, c, h, w]`.
    pub fn set(&mut self, index: [usize; 4], value: f32) {
        let i = self.offset(index);
        self.data[i] = value;
    }

    /// One `H x W` plane (image `n`, channel `c`) as rows, for printing and for tests.
    pub fn plane(&self, n: usize, c: usize) -> Vec<Vec<f32>> {
        let [_, _, h, w] = self.shape;
        (0..h).map(|y| (0..w).map(|x| self.at([n, c, y, x])).collect()).collect()
    }

    /// Largest absolute difference to `other`; panics if the shapes differ.
    pub fn max_abs_diff(&self, other: &Tensor4) -> f32 {
        assert_eq!(self.shape, other.shape, "max_abs_diff: shapes differ");
        self.data.iter().zip(&other.data).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)
    }
}

/// A row-major `f64` matrix: the element `(r, c)` lives at `r * cols + c`.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

impl Matrix {
    /// Wraps `data`; panics if its length is not `rows * cols`.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Self {
        assert_eq!(data.len(), rows * cols, "Matrix::new: {} values do not fill a {rows}x{cols} matrix", data.len());
        Self { rows, cols, data }
    }

    /// A matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self::new(rows, cols, vec![0.0; rows * cols])
    }

    /// A matrix from its rows; panics if they have different lengths.
    pub fn from_rows(rows: &[&[f64]]) -> Self {
        let cols = rows.first().map_or(0, |r| r.len());
        assert!(rows.iter().all(|r| r.len() == cols), "Matrix::from_rows: ragged rows");
        Self::new(rows.len(), cols, rows.concat())
    }

    /// The element at row `r`, column `c`.
    pub fn get(&self, r: usize, c: usize) -> f64 {
        self.data[r * self.cols + c]
    }

    /// Sets the element at row `r`, column `c`.
    pub fn set(&mut self, r: usize, c: usize, value: f64) {
        self.data[r * self.cols + c] = value;
    }

    /// Row `r` as a slice.
    pub fn row(&self, r: usize) -> &[f64] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// `self · other`: `[m, k] · [k, n] -> [m, n]`. Panics (like NumPy's "shapes not aligned")
    /// when the inner dimensions differ.
    pub fn matmul(&self, other: &Matrix) -> Matrix {
        assert_eq!(
            self.cols, other.rows,
            "matmul: shapes ({},{}) and ({},{}) not aligned",
            self.rows, self.cols, other.rows, other.cols
        );
        let mut out = Matrix::zeros(self.rows, other.cols);
        for i in 0..self.rows {
            for k in 0..self.cols {
                let a = self.get(i, k);
                for j in 0..other.cols {
                    out.data[i * other.cols + j] += a * other.get(k, j);
                }
            }
        }
        out
    }

    /// The transpose: `[m, n] -> [n, m]`.
    pub fn transpose(&self) -> Matrix {
        let mut out = Matrix::zeros(self.cols, self.rows);
        for r in 0..self.rows {
            for c in 0..self.cols {
                out.set(c, r, self.get(r, c));
            }
        }
        out
    }

    /// Sum over the rows, one value per column: `[m, n] -> [n]` (how a bias gradient is
    /// collected over a batch).
    pub fn column_sums(&self) -> Vec<f64> {
        let mut sums = vec![0.0; self.cols];
        for r in 0..self.rows {
            for (s, v) in sums.iter_mut().zip(self.row(r)) {
                *s += v;
            }
        }
        sums
    }

    /// Applies `f` to every element.
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Matrix {
        Matrix::new(self.rows, self.cols, self.data.iter().map(|&v| f(v)).collect())
    }
}
