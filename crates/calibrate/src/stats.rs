//! The statistics calibrate needs: an L2-penalised logistic regression with standard errors,
//! its holdout log-loss, ROC AUC, the phi coefficient, a percentile bootstrap of the
//! coefficients and type-7 quantiles. Hand-written rather than pulled from a linear-algebra
//! crate because the models have a few dozen columns: a Newton/IRLS solve with a Cholesky
//! factorisation is short, and its inverse Hessian gives the standard errors for free.

use std::sync::Mutex;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A fitted L2-penalised logistic regression. `coef[j]` belongs to column j; the intercept is
/// never penalised.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub intercept: f64,
    pub coef: Vec<f64>,
    /// Standard errors from the inverse penalised Hessian at the optimum, intercept first then
    /// each coef.
    pub se: Vec<f64>,
    /// Newton steps taken, counting those that reused an earlier Hessian.
    pub iterations: usize,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    #[error("no rows to fit")]
    Empty,
    #[error("rows have {found} values, expected {expected}")]
    Shape { expected: usize, found: usize },
    #[error("did not converge in {0} Newton steps")]
    NotConverged(usize),
    #[error(
        "the information matrix is singular (a column is constant or duplicates another); \
         raise the penalty"
    )]
    Singular,
}

/// Rows of a design matrix: `x` is row-major, n rows of `p` values.
#[derive(Debug, Clone, Copy)]
pub struct Design<'a> {
    pub x: &'a [f64],
    pub p: usize,
}

impl Design<'_> {
    pub fn rows(&self) -> usize {
        self.x.len().checked_div(self.p).unwrap_or(0)
    }

    pub fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.p..(i + 1) * self.p]
    }
}

impl Fit {
    /// Linear predictor intercept + coef·row.
    pub fn log_odds(&self, row: &[f64]) -> f64 {
        // A short row would silently drop the trailing coefficients.
        assert_eq!(
            row.len(),
            self.coef.len(),
            "row width differs from the fit's"
        );
        self.intercept + dot(&self.coef, row)
    }

    /// The fitted probability of the label, 1 / (1 + e^-log_odds).
    pub fn probability(&self, row: &[f64]) -> f64 {
        sides(self.log_odds(row)).0
    }
}

/// At most this many Newton steps.
const MAX_STEPS: usize = 100;
/// Converged once Newton would move no parameter by more than this.
const STEP_TOL: f64 = 1e-8;
/// Converged once the gradient max-norm is below this times the number of rows...
const GRAD_TOL: f64 = 1e-9;
/// ...provided the Newton step would move no row's log-odds by more than this. A vanishing
/// gradient alone also happens on the way to infinity: under separation the likelihood
/// flattens while the coefficients keep growing by about one unit of log-odds a step.
const ETA_TOL: f64 = 1e-6;
/// Separated: this many steps in a row with the gradient below tolerance yet the log-odds
/// still moving. The likelihood stops changing long before step 100 would be reached.
const MAX_FLAT_STEPS: usize = 5;
/// A Hessian factor is reused until the log-odds have drifted this far since it was formed;
/// the stale step then still shrinks the error by a factor of about 1/drift.
const REUSE_DRIFT: f64 = 0.05;
/// A row goes through the sparse Hessian update when its nonzeros (intercept included) are
/// fewer than 1/this of the columns: the measured break-even, as a scattered update costs
/// about ten times a vectorised one per cell.
const SPARSE_RATIO: usize = 3;
/// Step halvings before the line search gives up.
const MAX_HALVINGS: usize = 40;
/// A row's loss in `log_loss` is capped at -ln(1e-15), as if its probability were clamped to
/// [1e-15, 1 - 1e-15], so one confidently wrong holdout row cannot make the loss infinite.
const MAX_ROW_LOSS: f64 = 34.538_776_394_910_684;

/// Maximises Σ y log p + (1 - y) log(1 - p) − (penalty / 2) Σ coef² by Newton's method with a
/// step-halving line search. `penalty` must be ≥ 0; with 0 this is the maximum-likelihood fit.
///
/// # Panics
/// If `y` does not have one label per row of `design`.
pub fn logistic(design: &Design, y: &[bool], penalty: f64) -> Result<Fit, FitError> {
    check(design, y)?;
    let mean = y.iter().filter(|&&v| v).count() as f64 / y.len() as f64;
    // Clamped so an all-one or all-zero label starts finite; the fit then fails to converge,
    // as it should, instead of starting at infinity.
    let mean = mean.clamp(1e-6, 1.0 - 1e-6);
    let mut start = vec![0.0; design.p + 1];
    start[0] = (mean / (1.0 - mean)).ln();
    let problem = Problem {
        design,
        y,
        counts: None,
        penalty,
    };
    let mut work = Work::new(design);
    let (beta, iterations) = problem.newton(start, &mut work)?;
    let se = problem.standard_errors(&beta, &mut work)?;
    Ok(Fit {
        intercept: beta[0],
        coef: beta[1..].to_vec(),
        se,
        iterations,
    })
}

fn check(design: &Design, y: &[bool]) -> Result<(), FitError> {
    let ragged = design
        .x
        .len()
        .checked_rem(design.p)
        .unwrap_or(design.x.len());
    if ragged != 0 {
        return Err(FitError::Shape {
            expected: design.p,
            found: ragged,
        });
    }
    assert_eq!(y.len(), design.rows(), "one label per row");
    if y.is_empty() {
        return Err(FitError::Empty);
    }
    Ok(())
}

/// Mean negative log-likelihood of `fit` on rows (the holdout log-loss); NaN for no rows. Each
/// row's probability counts as clamped to [1e-15, 1 - 1e-15].
pub fn log_loss(fit: &Fit, design: &Design, y: &[bool]) -> f64 {
    assert_eq!(y.len(), design.rows(), "one label per row");
    let total: f64 = y
        .iter()
        .enumerate()
        .map(|(i, &label)| row_loss(fit.log_odds(design.row(i)), label).min(MAX_ROW_LOSS))
        .sum();
    total / y.len() as f64
}

/// Area under the ROC curve of `scores` for `labels` (Mann–Whitney, ties counted half, via
/// average ranks). None when either class is absent.
pub fn auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    assert_eq!(scores.len(), labels.len(), "one label per score");
    let positives = labels.iter().filter(|&&l| l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    // total_cmp orders -0.0 below 0.0; they must tie.
    let key = |i: usize| scores[i] + 0.0;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| key(a).total_cmp(&key(b)));
    let mut positive_ranks = 0.0;
    let mut start = 0;
    while start < order.len() {
        let score = key(order[start]);
        let end = start + order[start..].partition_point(|&i| key(i).total_cmp(&score).is_eq());
        // Ranks are 1-based: the tied block start..end shares the mean of start+1..=end.
        let rank = (start + 1 + end) as f64 / 2.0;
        let tied_positives = order[start..end].iter().filter(|&&i| labels[i]).count();
        positive_ranks += rank * tied_positives as f64;
        start = end;
    }
    let (pos, neg) = (positives as f64, negatives as f64);
    Some((positive_ranks - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

/// Phi coefficient (Pearson correlation of two 0/1 variables). None if either is constant.
pub fn phi(a: &[bool], b: &[bool]) -> Option<f64> {
    assert_eq!(a.len(), b.len(), "paired observations");
    let mut table = [[0usize; 2]; 2];
    for (&x, &y) in a.iter().zip(b) {
        table[usize::from(x)][usize::from(y)] += 1;
    }
    let [[n00, n01], [n10, n11]] = table.map(|row| row.map(|n| n as f64));
    let marginals = (n10 + n11) * (n00 + n01) * (n01 + n11) * (n00 + n10);
    (marginals > 0.0).then(|| (n11 * n00 - n10 * n01) / marginals.sqrt())
}

/// Bootstrap percentile intervals of the coefficients.
#[derive(Debug, Clone, PartialEq)]
pub struct Bootstrap {
    /// Per coef (not the intercept), the (lower, upper) quantiles of its resampled values;
    /// NaN when no resample could be fitted.
    pub intervals: Vec<(f64, f64)>,
    /// Resamples whose fit succeeded.
    pub fits: usize,
}

/// Percentile bootstrap: refit on `reps` resamples of the rows (with replacement, drawn from a
/// ChaCha8Rng seeded with `seed`, so results are reproducible), and return for each coef (not
/// the intercept) the (lower, upper) quantiles at (1-level)/2 and (1+level)/2 of its
/// resampled values. Resamples whose fit fails are skipped; returns also how many succeeded.
///
/// # Panics
/// If `y` does not have one label per row of `design`.
pub fn bootstrap(
    design: &Design,
    y: &[bool],
    penalty: f64,
    reps: usize,
    level: f64,
    seed: u64,
) -> Bootstrap {
    let p = design.p;
    if check(design, y).is_err() || reps == 0 {
        return Bootstrap {
            intervals: vec![(f64::NAN, f64::NAN); p],
            fits: 0,
        };
    }
    // Resamples stay near the full fit, so starting there saves Newton steps; the optimum,
    // and so the result, does not depend on the start.
    let start = match logistic(design, y, penalty) {
        Ok(fit) => [&[fit.intercept][..], &fit.coef].concat(),
        Err(_) => vec![0.0; p + 1],
    };
    let resampling = Resampling {
        design,
        y,
        penalty,
        reps,
        start,
        draws: Mutex::new((ChaCha8Rng::seed_from_u64(seed), 0)),
    };
    let fitted = resampling.fit_all();
    Bootstrap {
        intervals: percentile_intervals(&fitted, p, level),
        fits: fitted.len(),
    }
}

/// What the bootstrap's workers share: the data, the start of every fit, the random stream.
struct Resampling<'a> {
    design: &'a Design<'a>,
    y: &'a [bool],
    penalty: f64,
    reps: usize,
    start: Vec<f64>,
    /// The one random stream, and how many reps have been drawn from it.
    draws: Mutex<(ChaCha8Rng, usize)>,
}

impl Resampling<'_> {
    /// Every rep fitted, shared among up to one worker per core: the parameters
    /// `[intercept, coef...]` of each fit that succeeded.
    fn fit_all(&self) -> Vec<Vec<f64>> {
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(self.reps);
        let results: Vec<Vec<Vec<f64>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| scope.spawn(|| self.worker()))
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("bootstrap worker panicked"))
                .collect()
        });
        results.into_iter().flatten().collect()
    }

    /// One worker: draws the next rep and fits it, until every rep is drawn.
    fn worker(&self) -> Vec<Vec<f64>> {
        let mut work = Work::new(self.design);
        // A resample with replacement is the original rows with multiplicities, so it is
        // fitted in place with frequency weights, skipping the ~37% of rows that were not
        // drawn.
        let mut counts = vec![0u32; self.design.rows()];
        let mut done = Vec::new();
        while self.draw(&mut counts) {
            let problem = Problem {
                design: self.design,
                y: self.y,
                counts: Some(&counts),
                penalty: self.penalty,
            };
            if let Ok((beta, _)) = problem.newton(self.start.clone(), &mut work) {
                done.push(beta);
            }
        }
        done
    }

    /// The next rep's multiplicities into `counts`; false when every rep is drawn. Each rep
    /// takes the next stretch of the one random stream under the lock, in rep order, so the
    /// draws, and so the result, do not depend on how many threads share the work.
    fn draw(&self, counts: &mut [u32]) -> bool {
        let mut guard = self.draws.lock().unwrap_or_else(|e| e.into_inner());
        let (rng, next) = &mut *guard;
        if *next == self.reps {
            return false;
        }
        *next += 1;
        let n = counts.len();
        counts.fill(0);
        for _ in 0..n {
            counts[rng.random_range(0..n)] += 1;
        }
        true
    }
}

/// Per coef (not the intercept), the (lower, upper) quantiles at (1-level)/2 and (1+level)/2
/// of its values among the `fitted` parameter vectors.
fn percentile_intervals(fitted: &[Vec<f64>], p: usize, level: f64) -> Vec<(f64, f64)> {
    let (lower, upper) = ((1.0 - level) / 2.0, (1.0 + level) / 2.0);
    (1..=p)
        .map(|j| {
            let mut values: Vec<f64> = fitted.iter().map(|beta| beta[j]).collect();
            values.sort_by(f64::total_cmp);
            (quantile(&values, lower), quantile(&values, upper))
        })
        .collect()
}

/// Linear-interpolated quantile (type 7, as numpy's default) of an ascending slice; NaN for
/// empty. `q` is clamped to [0, 1].
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// One fit's data. `counts` are frequency weights (a bootstrap resample); None weighs every
/// row once.
struct Problem<'a> {
    design: &'a Design<'a>,
    y: &'a [bool],
    counts: Option<&'a [u32]>,
    penalty: f64,
}

/// Buffers reused across Newton steps and bootstrap fits. Parameter vectors are
/// `[intercept, coef...]`, of length k = p + 1.
struct Work {
    k: usize,
    eta: Vec<f64>,
    step_eta: Vec<f64>,
    trial_eta: Vec<f64>,
    /// The negative Hessian, k × k row-major; only the upper triangle is accumulated.
    hessian: Vec<f64>,
    gradient: Vec<f64>,
    /// Four augmented rows `[1, x...]`, for the rank-4 Hessian update.
    block: Vec<f64>,
    /// A sparse row's nonzeros, (column in `[1, x...]`, value).
    nonzero: Vec<(usize, f64)>,
}

impl Work {
    fn new(design: &Design) -> Self {
        let (n, k) = (design.rows(), design.p + 1);
        Work {
            k,
            eta: vec![0.0; n],
            step_eta: vec![0.0; n],
            trial_eta: vec![0.0; n],
            hessian: vec![0.0; k * k],
            gradient: vec![0.0; k],
            block: vec![0.0; 4 * k],
            nonzero: Vec::with_capacity(k),
        }
    }
}

impl Problem<'_> {
    fn count(&self, i: usize) -> f64 {
        self.counts.map_or(1.0, |c| f64::from(c[i]))
    }

    fn total(&self) -> f64 {
        self.counts.map_or(self.y.len() as f64, |c| {
            c.iter().map(|&n| f64::from(n)).sum()
        })
    }

    fn predict(&self, beta: &[f64], eta: &mut [f64]) {
        for (i, e) in eta.iter_mut().enumerate() {
            *e = beta[0] + dot(&beta[1..], self.design.row(i));
        }
    }

    /// The penalised negative log-likelihood: minimised, so the line search compares losses.
    fn loss(&self, beta: &[f64], eta: &[f64]) -> f64 {
        let data: f64 = (eta.iter().zip(self.y).enumerate())
            .map(|(i, (&e, &label))| match self.count(i) {
                0.0 => 0.0,
                c => c * row_loss(e, label),
            })
            .sum();
        data + self.penalty / 2.0 * beta[1..].iter().map(|b| b * b).sum::<f64>()
    }

    /// Fills the gradient of the penalised log-likelihood at `beta`, whose linear predictor is
    /// `work.eta`, and if `hessian` also its negative Hessian XᵀWX + penalty·I (intercept
    /// excepted).
    fn curvature(&self, beta: &[f64], work: &mut Work, hessian: bool) {
        let k = work.k;
        work.gradient.fill(0.0);
        if hessian {
            work.hessian.fill(0.0);
        }
        let mut weights = [0.0; 4];
        let mut filled = 0;
        for i in 0..self.y.len() {
            let c = self.count(i);
            if c == 0.0 {
                continue;
            }
            let (p, q) = sides(work.eta[i]);
            let residual = c * if self.y[i] { q } else { -p };
            let row = self.design.row(i);
            work.gradient[0] += residual;
            for (g, &v) in work.gradient[1..].iter_mut().zip(row) {
                *g += residual * v;
            }
            if !hessian {
                continue;
            }
            let w = c * p * q;
            // Rows of mostly zeros (fired flags, counts of rare events) cost the square of
            // their nonzeros scattered one by one, far less than the dense update then.
            let nonzero = row.iter().filter(|&&v| v != 0.0).count();
            if (nonzero + 1) * SPARSE_RATIO < k {
                sparse_update(&mut work.hessian, k, row, w, &mut work.nonzero);
                continue;
            }
            let z = &mut work.block[filled * k..(filled + 1) * k];
            z[0] = 1.0;
            z[1..].copy_from_slice(row);
            weights[filled] = w;
            filled += 1;
            if filled == 4 {
                rank4_update(&mut work.hessian, k, &work.block, weights);
                filled = 0;
            }
        }
        for (g, b) in work.gradient[1..].iter_mut().zip(&beta[1..]) {
            *g -= self.penalty * b;
        }
        if !hessian {
            return;
        }
        if filled > 0 {
            weights[filled..].fill(0.0);
            rank4_update(&mut work.hessian, k, &work.block, weights);
        }
        for a in 0..k {
            work.hessian[a * k + a] += if a == 0 { 0.0 } else { self.penalty };
            for b in 0..a {
                work.hessian[a * k + b] = work.hessian[b * k + a];
            }
        }
    }

    fn newton(&self, mut beta: Vec<f64>, work: &mut Work) -> Result<(Vec<f64>, usize), FitError> {
        let k = work.k;
        let grad_tol = GRAD_TOL * self.total();
        self.predict(&beta, &mut work.eta);
        let mut loss = self.loss(&beta, &work.eta);
        let mut trial = vec![0.0; k];
        let mut factor = None;
        // How far the log-odds have moved since the Hessian was factored.
        let mut drift = f64::INFINITY;
        let mut flat_steps = 0;
        for step in 1..=MAX_STEPS {
            // The Hessian changes slowly (|d log w / dη| ≤ 1), so once steps are small a stale
            // factor still gives a step nearly as good as Newton's, for a gradient pass instead
            // of a Hessian pass: this saves a quarter to a third of a fit's time.
            let fresh = drift > REUSE_DRIFT;
            self.curvature(&beta, work, fresh);
            if fresh {
                factor = Some(Cholesky::new(&work.hessian, k)?);
                drift = 0.0;
            }
            let delta = factor
                .as_ref()
                .expect("factored on the first step")
                .solve(&work.gradient);
            if max_abs(&delta) < STEP_TOL {
                for (b, d) in beta.iter_mut().zip(&delta) {
                    *b += d;
                }
                return Ok((beta, step));
            }
            self.predict(&delta, &mut work.step_eta);
            let moving = max_abs(&work.step_eta);
            if max_abs(&work.gradient) < grad_tol {
                if moving < ETA_TOL {
                    return Ok((beta, step));
                }
                // A flat likelihood with the log-odds still moving: a separated direction,
                // where steps go on forever.
                flat_steps += 1;
                if flat_steps == MAX_FLAT_STEPS {
                    return Err(FitError::NotConverged(step));
                }
            } else {
                flat_steps = 0;
            }
            let mut t = 1.0;
            let mut halvings = 0;
            loop {
                for ((tr, b), d) in trial.iter_mut().zip(&beta).zip(&delta) {
                    *tr = b + t * d;
                }
                for ((te, e), s) in work.trial_eta.iter_mut().zip(&work.eta).zip(&work.step_eta) {
                    *te = e + t * s;
                }
                let trial_loss = self.loss(&trial, &work.trial_eta);
                // A little slack: at the optimum a full step may "lose" to rounding.
                if trial_loss <= loss + 1e-12 * loss.abs().max(1.0) {
                    loss = trial_loss;
                    break;
                }
                halvings += 1;
                if halvings == MAX_HALVINGS {
                    // Also catches a NaN loss, which no step can improve.
                    return Err(FitError::NotConverged(step));
                }
                t *= 0.5;
            }
            drift += t * moving;
            std::mem::swap(&mut beta, &mut trial);
            std::mem::swap(&mut work.eta, &mut work.trial_eta);
        }
        Err(FitError::NotConverged(MAX_STEPS))
    }

    fn standard_errors(&self, beta: &[f64], work: &mut Work) -> Result<Vec<f64>, FitError> {
        self.predict(beta, &mut work.eta);
        self.curvature(beta, work, true);
        let factor = Cholesky::new(&work.hessian, work.k)?;
        Ok(factor
            .inverse_diagonal()
            .into_iter()
            .map(f64::sqrt)
            .collect())
    }
}

/// H += Σ_r w_r z_r z_rᵀ over the four rows in `block`, upper triangle only. Four rows at a
/// time so each load and store of H serves four multiply-adds: this loop is nearly all of a
/// fit's time.
fn rank4_update(h: &mut [f64], k: usize, block: &[f64], w: [f64; 4]) {
    let (z0, rest) = block.split_at(k);
    let (z1, rest) = rest.split_at(k);
    let (z2, z3) = rest.split_at(k);
    for a in 0..k {
        let (s0, s1, s2, s3) = (w[0] * z0[a], w[1] * z1[a], w[2] * z2[a], w[3] * z3[a]);
        let row = &mut h[a * k + a..(a + 1) * k];
        let columns = z0[a..].iter().zip(&z1[a..]).zip(&z2[a..]).zip(&z3[a..]);
        for (cell, (((&b0, &b1), &b2), &b3)) in row.iter_mut().zip(columns) {
            *cell += s0 * b0 + s1 * b1 + s2 * b2 + s3 * b3;
        }
    }
}

/// H += w z zᵀ for z = [1, row...], upper triangle, visiting only the nonzeros of z.
fn sparse_update(h: &mut [f64], k: usize, row: &[f64], w: f64, nonzero: &mut Vec<(usize, f64)>) {
    nonzero.clear();
    nonzero.push((0, 1.0));
    nonzero.extend((1..k).zip(row.iter().copied()).filter(|&(_, v)| v != 0.0));
    for (i, &(a, va)) in nonzero.iter().enumerate() {
        let s = w * va;
        let cells = &mut h[a * k..(a + 1) * k];
        for &(b, vb) in &nonzero[i..] {
            cells[b] += s * vb;
        }
    }
}

/// Lower-triangular L with L Lᵀ = A.
struct Cholesky {
    k: usize,
    l: Vec<f64>,
}

impl Cholesky {
    /// Singular when a pivot falls below this share of its diagonal entry: all that is left of
    /// the column after projecting out the earlier ones is rounding error.
    const PIVOT_TOL: f64 = 1e-11;

    fn new(a: &[f64], k: usize) -> Result<Self, FitError> {
        let mut l = vec![0.0; k * k];
        for j in 0..k {
            let pivot = a[j * k + j] - l[j * k..j * k + j].iter().map(|v| v * v).sum::<f64>();
            let diagonal = a[j * k + j];
            // False for NaN too, which is then singular rather than spreading.
            let healthy = diagonal > 0.0 && pivot > Self::PIVOT_TOL * diagonal;
            if !healthy {
                return Err(FitError::Singular);
            }
            let d = pivot.sqrt();
            l[j * k + j] = d;
            for i in j + 1..k {
                let s = a[i * k + j] - dot(&l[i * k..i * k + j], &l[j * k..j * k + j]);
                l[i * k + j] = s / d;
            }
        }
        Ok(Cholesky { k, l })
    }

    fn solve(&self, b: &[f64]) -> Vec<f64> {
        let (k, l) = (self.k, &self.l);
        let mut x = b.to_vec();
        for i in 0..k {
            x[i] = (x[i] - dot(&l[i * k..i * k + i], &x[..i])) / l[i * k + i];
        }
        for i in (0..k).rev() {
            let s: f64 = (i + 1..k).map(|r| l[r * k + i] * x[r]).sum();
            x[i] = (x[i] - s) / l[i * k + i];
        }
        x
    }

    /// diag(A⁻¹): A⁻¹ = L⁻ᵀL⁻¹, so its diagonal is the column sums of squares of L⁻¹.
    fn inverse_diagonal(&self) -> Vec<f64> {
        let (k, l) = (self.k, &self.l);
        let mut diag = vec![0.0; k];
        let mut column = vec![0.0; k];
        for j in 0..k {
            // Column j of L⁻¹ by forward substitution on e_j; its entries above j are zero.
            column.fill(0.0);
            column[j] = 1.0 / l[j * k + j];
            for i in j + 1..k {
                let s: f64 = (j..i).map(|m| l[i * k + m] * column[m]).sum();
                column[i] = -s / l[i * k + i];
            }
            diag[j] = column[j..].iter().map(|v| v * v).sum();
        }
        diag
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    // Four running sums rather than one, so the additions need not wait on each other: the
    // linear predictor over every row is a fair part of a step once the Hessian is sparse.
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = a4
        .remainder()
        .iter()
        .zip(b4.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut sums = [0.0; 4];
    for (x, y) in a4.zip(b4) {
        for ((s, x), y) in sums.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    (sums[0] + sums[1]) + (sums[2] + sums[3]) + tail
}

/// Largest magnitude, NaN if any is: f64::max would drop a NaN, and a NaN step would then
/// pass for a converged one.
fn max_abs(v: &[f64]) -> f64 {
    v.iter()
        .map(|x| x.abs())
        .fold(0.0, |m, x| if x > m || x.is_nan() { x } else { m })
}

/// (p, 1 - p) for log-odds `eta`, each computed without cancellation so the weight p(1 - p)
/// and the residuals stay accurate far into the tails.
fn sides(eta: f64) -> (f64, f64) {
    let e = (-eta.abs()).exp();
    let (big, small) = (1.0 / (1.0 + e), e / (1.0 + e));
    if eta >= 0.0 {
        (big, small)
    } else {
        (small, big)
    }
}

/// -log P(label | eta), as log(1 + e^∓eta) in a form that neither overflows nor takes the log
/// of a probability rounded to 0.
fn row_loss(eta: f64, label: bool) -> f64 {
    let z = if label { -eta } else { eta };
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Columns x1, x2 (0/1), x3 and the label. Drawn by numpy (default_rng(7), 40 rows) from
    /// a logistic model, rounded so both sides fit exactly the same numbers.
    const ROWS: [([f64; 3], bool); 40] = [
        ([0.00, 0.0, 4.6], false),
        ([0.30, 0.0, 2.8], false),
        ([-0.27, 0.0, 0.9], false),
        ([-0.89, 0.0, 4.4], false),
        ([-0.45, 0.0, 3.2], false),
        ([-0.99, 1.0, 2.8], false),
        ([0.06, 0.0, 1.9], false),
        ([1.34, 0.0, 2.1], true),
        ([-0.49, 0.0, 1.2], false),
        ([-0.62, 1.0, 0.2], false),
        ([0.49, 0.0, 4.4], false),
        ([0.36, 1.0, 2.3], true),
        ([0.11, 1.0, 2.7], true),
        ([-0.93, 1.0, 1.6], false),
        ([-0.03, 1.0, 3.8], false),
        ([0.70, 0.0, 0.1], false),
        ([-1.34, 1.0, 1.9], false),
        ([-0.46, 0.0, 0.2], false),
        ([-1.90, 0.0, 0.6], false),
        ([-1.29, 0.0, 4.8], false),
        ([-1.84, 0.0, 3.3], false),
        ([-0.24, 0.0, 2.1], false),
        ([-1.27, 1.0, 2.6], false),
        ([0.27, 0.0, 4.4], false),
        ([0.16, 1.0, 1.7], false),
        ([-0.19, 0.0, 3.0], true),
        ([-2.52, 1.0, 3.4], false),
        ([-0.54, 0.0, 1.8], false),
        ([-0.05, 1.0, 2.6], false),
        ([0.11, 0.0, 3.8], false),
        ([-1.53, 1.0, 4.5], false),
        ([-0.48, 0.0, 0.8], false),
        ([-0.98, 0.0, 4.7], false),
        ([-0.81, 1.0, 0.0], false),
        ([1.06, 0.0, 3.8], false),
        ([-0.81, 0.0, 4.1], false),
        ([-0.03, 0.0, 0.7], false),
        ([0.88, 0.0, 2.1], true),
        ([-0.58, 1.0, 4.1], true),
        ([-0.11, 1.0, 0.1], true),
    ];

    fn reference() -> (Vec<f64>, Vec<bool>) {
        let x = ROWS.iter().flat_map(|(r, _)| *r).collect();
        let y = ROWS.iter().map(|&(_, label)| label).collect();
        (x, y)
    }

    fn assert_close(what: &str, got: f64, want: f64, rel: f64) {
        assert!(
            (got - want).abs() <= rel * want.abs().max(1e-3),
            "{what}: got {got}, want {want}"
        );
    }

    fn params(fit: &Fit) -> Vec<f64> {
        [&[fit.intercept][..], &fit.coef].concat()
    }

    /// The penalised negative log-likelihood written directly from its definition, to check
    /// the fit against something that shares none of its code.
    fn naive_objective(x: &[f64], y: &[bool], beta: &[f64], penalty: f64) -> f64 {
        let mut total = 0.0;
        for (row, &label) in x.chunks(beta.len() - 1).zip(y) {
            let eta = beta[0] + row.iter().zip(&beta[1..]).map(|(a, b)| a * b).sum::<f64>();
            let p = 1.0 / (1.0 + (-eta).exp());
            total -= if label { p.ln() } else { (1.0 - p).ln() };
        }
        total + penalty / 2.0 * beta[1..].iter().map(|b| b * b).sum::<f64>()
    }

    #[test]
    fn matches_reference_fits() {
        // Unpenalised: statsmodels 0.15.0, sm.Logit(y, sm.add_constant(X)).fit(tol=1e-14);
        // params and bse. Penalised (2.5): scipy 1.17.1 optimize.minimize(method="trust-exact")
        // of -loglik + 2.5/2·Σcoef² (gradient 1e-11 at its optimum), standard errors from
        // numpy.linalg.inv of XᵀWX + 2.5·diag(0, 1, 1, 1) there.
        let cases: [(f64, [f64; 4], [f64; 4]); 2] = [
            (
                0.0,
                [
                    -2.53601796066,
                    2.449436492163,
                    2.516772343249,
                    0.002730030285,
                ],
                [
                    1.279804429628,
                    0.974984069303,
                    1.237273136429,
                    0.362579364633,
                ],
            ),
            (
                2.5,
                [
                    -1.429317182979,
                    0.827563342393,
                    0.487780329186,
                    -0.043857363953,
                ],
                [
                    0.809267536998,
                    0.434970193899,
                    0.518959596479,
                    0.269985157484,
                ],
            ),
        ];
        let (x, y) = reference();
        let design = Design { x: &x, p: 3 };
        for (penalty, want_params, want_se) in cases {
            let fit = logistic(&design, &y, penalty).unwrap();
            for (j, (got, want)) in params(&fit).iter().zip(want_params).enumerate() {
                assert_close(&format!("penalty {penalty} param {j}"), *got, want, 1e-7);
            }
            for (j, (got, want)) in fit.se.iter().zip(want_se).enumerate() {
                assert_close(&format!("penalty {penalty} se {j}"), *got, want, 1e-7);
            }
            assert!(
                fit.iterations > 1 && fit.iterations < 20,
                "{}",
                fit.iterations
            );
        }
    }

    #[test]
    fn penalised_optimum_is_a_minimum_of_the_naive_objective() {
        let (x, y) = reference();
        let design = Design { x: &x, p: 3 };
        for penalty in [0.1, 1.0, 30.0] {
            let beta = params(&logistic(&design, &y, penalty).unwrap());
            let at = naive_objective(&x, &y, &beta, penalty);
            for j in 0..beta.len() {
                let h = 1e-5;
                let shifted = |d: f64| {
                    let mut b = beta.clone();
                    b[j] += d;
                    naive_objective(&x, &y, &b, penalty)
                };
                let slope = (shifted(h) - shifted(-h)) / (2.0 * h);
                assert!(slope.abs() < 1e-6, "penalty {penalty} d/dβ{j} = {slope}");
                for d in [-1e-2, 1e-2, -0.3, 0.3] {
                    assert!(shifted(d) > at, "penalty {penalty}: β{j}{d:+} is lower");
                }
            }
        }
    }

    #[test]
    fn log_loss_and_predictions() {
        let (x, y) = reference();
        let design = Design { x: &x, p: 3 };
        let fit = logistic(&design, &y, 2.5).unwrap();
        // numpy: mean(logaddexp(0, η) - y·η) at the scipy optimum above.
        assert_close(
            "log loss",
            log_loss(&fit, &design, &y),
            0.3800008181847238,
            1e-8,
        );
        let row = design.row(7);
        let want = fit.intercept + fit.coef.iter().zip(row).map(|(c, v)| c * v).sum::<f64>();
        assert_close("log odds", fit.log_odds(row), want, 1e-12);
        assert_close(
            "probability",
            fit.probability(row),
            1.0 / (1.0 + (-want).exp()),
            1e-12,
        );

        // A confidently wrong row costs the capped -ln(1e-15), not infinity.
        let sure = Fit {
            intercept: 800.0,
            coef: vec![1.0],
            se: vec![],
            iterations: 0,
        };
        let loss =
            [false, true].map(|label| log_loss(&sure, &Design { x: &[0.0], p: 1 }, &[label]));
        assert!(log_loss(&sure, &Design { x: &[], p: 1 }, &[]).is_nan());
        assert_close("wrong", loss[0], -(1e-15f64).ln(), 1e-12);
        assert_eq!(loss[1], 0.0);
    }

    #[test]
    fn shape_and_degenerate_designs() {
        let y = [true, false, true, false, true];
        let ragged = Design {
            x: &[1.0; 14],
            p: 3,
        };
        assert_eq!(ragged.rows(), 4);
        assert_eq!(
            logistic(&ragged, &y[..4], 0.0),
            Err(FitError::Shape {
                expected: 3,
                found: 2
            })
        );
        assert_eq!(
            logistic(&Design { x: &[], p: 2 }, &[], 1.0),
            Err(FitError::Empty)
        );

        let x1 = [0.3, -1.2, 0.8, 2.0, -0.4];
        let x2 = [1.0, 0.0, 0.0, 1.0, 1.0];
        let cases: [(&str, [[f64; 5]; 2]); 3] = [
            ("duplicate column", [x1, x1]),
            ("constant column", [x1, [2.0; 5]]),
            ("zero column", [x1, [0.0; 5]]),
        ];
        for (name, columns) in cases {
            let x: Vec<f64> = (0..5)
                .flat_map(|i| [columns[0][i], columns[1][i]])
                .collect();
            let design = Design { x: &x, p: 2 };
            assert_eq!(
                logistic(&design, &y, 0.0),
                Err(FitError::Singular),
                "{name}"
            );
            let fit = logistic(&design, &y, 1.0).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(fit.se.iter().all(|s| s.is_finite()), "{name}");
        }
        let mut x: Vec<f64> = (0..5).flat_map(|i| [x1[i], x2[i]]).collect();
        assert!(logistic(&Design { x: &x, p: 2 }, &y, 0.0).is_ok());
        // A NaN step must not pass for a converged one.
        assert!(max_abs(&[1.0, f64::NAN, 2.0]).is_nan());
        assert_eq!(max_abs(&[1.0, -3.0, 2.0]), 3.0);
        // Values that are not numbers fail the fit; they never come back as coefficients.
        for bad in [f64::NAN, f64::INFINITY, f64::MAX] {
            x[3] = bad;
            for penalty in [0.0, 1.0] {
                let result = logistic(&Design { x: &x, p: 2 }, &y, penalty);
                assert!(result.is_err(), "{bad} {penalty}: {result:?}");
            }
        }
    }

    #[test]
    fn separation() {
        // Complete: x > 0 exactly when y. Quasi-complete: the second column is 1 only on
        // positives, but the first overlaps.
        let complete: (&[f64], usize, &[bool]) = (
            &[-2.0, -1.0, -0.5, 0.5, 1.0, 2.0],
            1,
            &[false, false, false, true, true, true],
        );
        let quasi: (&[f64], usize, &[bool]) = (
            &[-1.0, 0.0, 0.5, 0.0, 0.3, 0.0, -0.2, 1.0, 1.0, 1.0, 0.8, 0.0],
            2,
            &[false, true, false, true, true, true],
        );
        let constant: (&[f64], usize, &[bool]) = (&[0.1, 0.2, 0.3], 1, &[true; 3]);
        for (name, (x, p, y)) in [("complete", complete), ("quasi", quasi)] {
            let design = Design { x, p };
            let mut weaker = f64::INFINITY;
            for penalty in [0.01, 1.0, 10.0] {
                let fit = logistic(&design, y, penalty).unwrap_or_else(|e| panic!("{name}: {e}"));
                let all = params(&fit).into_iter().chain(fit.se.iter().copied());
                assert!(all.clone().all(f64::is_finite), "{name} {penalty}: {fit:?}");
                // Finite, positive, and shrinking as the penalty grows.
                let coef = fit.coef[p - 1];
                assert!(coef > 0.0 && coef < weaker, "{name} {penalty}: {fit:?}");
                weaker = coef;
            }
            // Caught soon after the likelihood flattens, not after all 100 steps.
            let err = logistic(&design, y, 0.0).unwrap_err();
            assert!(
                matches!(err, FitError::NotConverged(..50) | FitError::Singular),
                "{name}: {err:?}"
            );
        }
        // One class only: the intercept has no finite optimum, penalty or not.
        let design = Design {
            x: constant.0,
            p: 1,
        };
        for penalty in [0.0, 1.0] {
            assert!(logistic(&design, constant.2, penalty).is_err());
        }
    }

    #[test]
    fn frequency_weights_equal_repeated_rows() {
        let (x, y) = reference();
        let design = Design { x: &x, p: 3 };
        let counts: Vec<u32> = (0..40).map(|i| (i * 7 % 5) as u32 % 3).collect();
        let (mut xr, mut yr) = (Vec::new(), Vec::new());
        for (i, &c) in counts.iter().enumerate() {
            for _ in 0..c {
                xr.extend_from_slice(design.row(i));
                yr.push(y[i]);
            }
        }
        let repeated = params(&logistic(&Design { x: &xr, p: 3 }, &yr, 0.7).unwrap());
        let problem = Problem {
            design: &design,
            y: &y,
            counts: Some(&counts),
            penalty: 0.7,
        };
        let (weighted, _) = problem
            .newton(vec![0.0; 4], &mut Work::new(&design))
            .unwrap();
        for (j, (a, b)) in weighted.iter().zip(&repeated).enumerate() {
            assert_close(&format!("param {j}"), *a, *b, 1e-9);
        }
    }

    #[test]
    fn hessian_matches_its_definition() {
        // Twelve columns; rows 0..7 mostly zeros (the sparse update), the rest dense, and
        // row counts that skip some rows and repeat others.
        let (n, p) = (23, 12);
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let x: Vec<f64> = (0..n * p)
            .map(|c| match c / p {
                i if i < 7 && c % (i + 2) != 0 => 0.0,
                _ => rng.random_range(-2.0..3.0),
            })
            .collect();
        let y: Vec<bool> = (0..n).map(|i| i % 3 != 1).collect();
        let counts: Vec<u32> = (0..n as u32).map(|i| i * 5 % 4).collect();
        let design = Design { x: &x, p };
        let sparse_rows = (0..n).filter(|&i| {
            let nonzero = design.row(i).iter().filter(|&&v| v != 0.0).count();
            (nonzero + 1) * SPARSE_RATIO < p + 1
        });
        assert!(
            (3..n - 3).contains(&sparse_rows.count()),
            "both updates exercised"
        );
        let beta: Vec<f64> = (0..=p).map(|j| 0.1 * j as f64 - 0.4).collect();
        let problem = Problem {
            design: &design,
            y: &y,
            counts: Some(&counts),
            penalty: 0.3,
        };
        let mut work = Work::new(&design);
        problem.predict(&beta, &mut work.eta);
        problem.curvature(&beta, &mut work, true);
        let k = p + 1;
        for a in 0..k {
            let mut gradient = if a == 0 { 0.0 } else { -0.3 * beta[a] };
            for b in 0..k {
                let mut cell = if a == b && a > 0 { 0.3 } else { 0.0 };
                for i in 0..n {
                    let z = |j: usize| if j == 0 { 1.0 } else { design.row(i)[j - 1] };
                    let eta = (0..k).map(|j| beta[j] * z(j)).sum::<f64>();
                    let prob = 1.0 / (1.0 + (-eta).exp());
                    let c = f64::from(counts[i]);
                    cell += c * prob * (1.0 - prob) * z(a) * z(b);
                    if b == 0 {
                        gradient += c * (f64::from(u8::from(y[i])) - prob) * z(a);
                    }
                }
                assert_close(
                    &format!("H[{a}][{b}]"),
                    work.hessian[a * k + b],
                    cell,
                    1e-12,
                );
            }
            assert_close(&format!("g[{a}]"), work.gradient[a], gradient, 1e-12);
        }
    }

    #[test]
    fn auc_cases() {
        let f = false;
        let t = true;
        type Case<'a> = (&'a str, &'a [f64], &'a [bool], Option<f64>);
        let cases: [Case; 9] = [
            ("all tied", &[1.0; 4], &[t, f, t, f], Some(0.5)),
            ("perfect", &[1.0, 2.0, 3.0, 4.0], &[f, f, t, t], Some(1.0)),
            ("reversed", &[1.0, 2.0, 3.0, 4.0], &[t, t, f, f], Some(0.0)),
            (
                "tie across classes",
                &[1.0, 2.0, 2.0, 3.0],
                &[f, t, f, t],
                Some(0.875),
            ),
            ("signed zeros tie", &[-0.0, 0.0], &[t, f], Some(0.5)),
            (
                "unsorted with ties",
                &[3.0, 1.0, 2.0, 2.0, 2.0],
                &[t, f, f, t, t],
                Some(5.0 / 6.0),
            ),
            ("no positives", &[1.0, 2.0], &[f, f], None),
            ("no negatives", &[1.0, 2.0], &[t, t], None),
            ("empty", &[], &[], None),
        ];
        for (name, scores, labels, want) in cases {
            assert_eq!(auc(scores, labels), want, "{name}");
        }
        // sklearn 1.9.1 roc_auc_score on these (ties, and a -0.0 among the zeros).
        let scores = [
            -0.7, -1.1, 0.3, 1.4, -1.5, -0.2, -0.6, -1.8, 0.7, -0.0, 0.1, -0.8, 0.5, -0.5, -0.1,
            -1.1, -1.2, 1.3, -0.5, 0.3, -0.0, -0.4, -0.5, 0.6, -0.3, -0.2, 0.0, 1.2, 0.7, 0.4,
        ];
        let labels = [
            1, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0,
            1,
        ]
        .map(|l| l == 1);
        assert_close(
            "sklearn",
            auc(&scores, &labels).unwrap(),
            0.5180995475113123,
            1e-12,
        );
    }

    #[test]
    fn phi_tables() {
        // Build each case from its 2×2 table: (a, b) pairs with counts n11, n10, n01, n00.
        let table = |n11: usize, n10: usize, n01: usize, n00: usize| {
            let pairs = [
                ((true, true), n11),
                ((true, false), n10),
                ((false, true), n01),
            ];
            let all = pairs.into_iter().chain([((false, false), n00)]);
            all.flat_map(|(pair, n)| std::iter::repeat_n(pair, n))
                .unzip::<_, _, Vec<_>, Vec<_>>()
        };
        let cases = [
            ("identical", (3, 0, 0, 2), Some(1.0)),
            ("opposite", (0, 4, 1, 0), Some(-1.0)),
            ("independent", (5, 5, 5, 5), Some(0.0)),
            ("(100 - 25) / 15²", (10, 5, 5, 10), Some(1.0 / 3.0)),
            // (2·8 - 3·1) / √(5·9·3·11)
            ("uneven", (2, 3, 1, 8), Some(13.0 / 1485f64.sqrt())),
            ("a constant", (3, 4, 0, 0), None),
            ("b constant", (0, 4, 0, 6), None),
            ("empty", (0, 0, 0, 0), None),
        ];
        for (name, (n11, n10, n01, n00), want) in cases {
            let (a, b) = table(n11, n10, n01, n00);
            match (phi(&a, &b), want) {
                (Some(got), Some(want)) => assert_close(name, got, want, 1e-12),
                (got, want) => assert_eq!(got, want, "{name}"),
            }
        }
        // numpy.corrcoef of these as 0/1.
        let a = [
            0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1,
        ];
        let b = [
            0, 0, 1, 1, 0, 1, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 0, 0, 1,
        ];
        let got = phi(&a.map(|v| v == 1), &b.map(|v| v == 1)).unwrap();
        assert_close("numpy", got, 0.06579516949597694, 1e-12);
    }

    #[test]
    fn quantiles_match_numpy() {
        // numpy 2.4.6 np.quantile([3, -1, 4, 1.5, 9, 2.6, 5], q), default method (linear).
        let sorted = [-1.0, 1.5, 2.6, 3.0, 4.0, 5.0, 9.0];
        let cases = [
            (0.0, -1.0),
            (0.025, -0.625),
            (0.1, 0.5000000000000002),
            (0.25, 2.05),
            (0.5, 3.0),
            (0.9, 6.600000000000001),
            (0.975, 8.399999999999999),
            (1.0, 9.0),
        ];
        for (q, want) in cases {
            assert_close(&format!("q {q}"), quantile(&sorted, q), want, 1e-14);
        }
        assert!(quantile(&[], 0.5).is_nan());
        assert_eq!(quantile(&[4.0], 0.3), 4.0);
        assert_eq!(quantile(&[1.0, 2.0], 0.5), 1.5);
    }

    /// 400 rows: a strong effect (log-odds 2 per unit), a pure-noise column and a 0/1 column
    /// with a moderate effect.
    fn simulated(n: usize, seed: u64) -> (Vec<f64>, Vec<bool>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let strong = rng.random_range(-1.5..1.5);
            let noise = rng.random_range(-1.5..1.5);
            let flag = f64::from(rng.random_bool(0.3));
            let eta: f64 = -0.3 + 2.0 * strong + 0.5 * flag;
            x.extend([strong, noise, flag]);
            y.push(rng.random_bool(1.0 / (1.0 + (-eta).exp())));
        }
        (x, y)
    }

    #[test]
    fn bootstrap_intervals() {
        let (x, y) = simulated(400, 11);
        let design = Design { x: &x, p: 3 };
        let first = bootstrap(&design, &y, 0.1, 200, 0.95, 42);
        assert_eq!(
            first,
            bootstrap(&design, &y, 0.1, 200, 0.95, 42),
            "same seed"
        );
        assert_ne!(
            first,
            bootstrap(&design, &y, 0.1, 200, 0.95, 43),
            "other seed"
        );
        assert_eq!(first.fits, 200);
        let fit = logistic(&design, &y, 0.1).unwrap();
        let [strong, noise, _] = first.intervals[..] else {
            panic!("{first:?}")
        };
        assert!(strong.0 > 0.5, "strong effect {strong:?}");
        assert!(noise.0 < 0.0 && noise.1 > 0.0, "noise {noise:?}");
        for (j, &(lo, hi)) in first.intervals.iter().enumerate() {
            assert!(
                lo < fit.coef[j] && fit.coef[j] < hi,
                "coef {j} outside {lo}..{hi}"
            );
        }
        // The percentile interval should be about ±1.96 standard errors wide.
        let ratio = (strong.1 - strong.0) / (2.0 * 1.96 * fit.se[1]);
        assert!((0.7..1.4).contains(&ratio), "width ratio {ratio}");
        // A narrower level gives a nested interval.
        let narrow = bootstrap(&design, &y, 0.1, 200, 0.5, 42);
        for (w, n) in first.intervals.iter().zip(&narrow.intervals) {
            assert!(w.0 < n.0 && n.1 < w.1, "{w:?} {n:?}");
        }
    }

    #[test]
    fn bootstrap_equals_a_sequential_run() {
        // The same resamples fitted one after another, to show the threads change nothing.
        let (x, y) = simulated(300, 4);
        let design = Design { x: &x, p: 3 };
        let full = logistic(&design, &y, 0.3).unwrap();
        let start = params(&full);
        let mut rng = ChaCha8Rng::seed_from_u64(77);
        let mut coefs = vec![Vec::new(); 3];
        for _ in 0..40 {
            let mut counts = vec![0u32; 300];
            for _ in 0..300 {
                counts[rng.random_range(0..300)] += 1;
            }
            let problem = Problem {
                design: &design,
                y: &y,
                counts: Some(&counts),
                penalty: 0.3,
            };
            let (beta, _) = problem
                .newton(start.clone(), &mut Work::new(&design))
                .unwrap();
            for (values, b) in coefs.iter_mut().zip(&beta[1..]) {
                values.push(*b);
            }
        }
        let want: Vec<(f64, f64)> = coefs
            .iter_mut()
            .map(|values| {
                values.sort_by(f64::total_cmp);
                // As bootstrap computes them: (1 - 0.8) / 2 is one ulp below 0.1.
                (
                    quantile(values, (1.0 - 0.8) / 2.0),
                    quantile(values, (1.0 + 0.8) / 2.0),
                )
            })
            .collect();
        let got = bootstrap(&design, &y, 0.3, 40, 0.8, 77);
        assert_eq!(
            got,
            Bootstrap {
                intervals: want,
                fits: 40
            }
        );
    }

    #[test]
    fn bootstrap_skips_failed_fits() {
        // A rare flag on two positives and one negative: unpenalised, a resample without the
        // negative is separated and one without any is singular; both are skipped.
        let mut x = vec![0.0; 30];
        for i in [0, 1, 3] {
            x[i] = 1.0;
        }
        let y: Vec<bool> = (0..30).map(|i| i % 3 == 0).collect();
        let result = bootstrap(&Design { x: &x, p: 1 }, &y, 0.0, 50, 0.9, 5);
        assert!(result.fits > 0 && result.fits < 50, "{}", result.fits);
        let none = bootstrap(&Design { x: &[], p: 2 }, &[], 1.0, 10, 0.9, 5);
        assert_eq!(none.fits, 0);
        assert!(
            none.intervals
                .iter()
                .all(|(lo, hi)| lo.is_nan() && hi.is_nan())
        );
    }

    /// The size calibrate must handle: `cargo test --release -- --ignored --nocapture`.
    /// Dense: half the columns uniform, half 0/1 flags firing 20% of the time (the dense
    /// Hessian update throughout). Flags: every column a 0/1 flag firing 10% of the time (the
    /// sparse update).
    #[test]
    #[ignore]
    fn bootstrap_speed() {
        let (n, p) = (20_000, 60);
        let truth: Vec<f64> = (0..p).map(|j| if j % 3 == 0 { 0.3 } else { 0.0 }).collect();
        for (name, dense) in [("dense", true), ("flags", false)] {
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            let (mut x, mut y) = (Vec::with_capacity(n * p), Vec::with_capacity(n));
            for _ in 0..n {
                let row: Vec<f64> = (0..p)
                    .map(|j| match (dense, j % 2) {
                        (true, 0) => f64::from(rng.random_bool(0.2)),
                        (true, _) => rng.random(),
                        (false, _) => f64::from(rng.random_bool(0.1)),
                    })
                    .collect();
                let eta = -1.0 + row.iter().zip(&truth).map(|(a, b)| a * b).sum::<f64>();
                y.push(rng.random_bool(1.0 / (1.0 + (-eta).exp())));
                x.extend(row);
            }
            let design = Design { x: &x, p };
            let started = std::time::Instant::now();
            let fit = logistic(&design, &y, 1.0).unwrap();
            let single = started.elapsed();
            let started = std::time::Instant::now();
            let result = bootstrap(&design, &y, 1.0, 200, 0.95, 1);
            let total = started.elapsed();
            eprintln!(
                "{name}: n {n}, p {p}: one fit {single:?} ({} steps); 200 resamples {total:?} \
                 on {} threads",
                fit.iterations,
                std::thread::available_parallelism().map_or(1, usize::from)
            );
            assert_eq!(result.fits, 200);
            assert!(total.as_secs_f64() < 10.0, "{total:?}");
        }
    }
}
