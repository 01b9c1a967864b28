package scorecard

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// design is a design matrix in compressed sparse rows: one-hot inputs are mostly
// zeros, and the Hessian XᵀWX costs the square of a row's non-zeros, not of its width.
type design struct {
	n, p   int
	rowPtr []int
	col    []int32
	val    []float64
}

func newDesign(rows, p int) *design {
	d := &design{p: p, rowPtr: make([]int, 1, rows+1)}
	d.col = make([]int32, 0, rows*p)
	d.val = make([]float64, 0, rows*p)
	return d
}

// addRow appends a row given densely; zeros are dropped.
func (d *design) addRow(x []float64) {
	if d.rowPtr == nil {
		d.rowPtr = []int{0}
	}
	for j, v := range x {
		if v != 0 {
			d.col = append(d.col, int32(j))
			d.val = append(d.val, v)
		}
	}
	d.rowPtr = append(d.rowPtr, len(d.col))
	d.n++
}

func (d *design) eta(i int, beta []float64) float64 {
	s := 0.0
	for k := d.rowPtr[i]; k < d.rowPtr[i+1]; k++ {
		s += d.val[k] * beta[d.col[k]]
	}
	return s
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// softplus is ln(1 + eᶻ) without overflow.
func softplus(z float64) float64 {
	if z > 0 {
		return z + math.Log1p(math.Exp(-z))
	}
	return math.Log1p(math.Exp(z))
}

// fit is the result of a logistic regression.
type fit struct {
	beta       []float64
	iterations int
	logLik     float64 // unpenalised log-likelihood at beta
}

// fitLogistic maximises the L2-penalised log-likelihood
//
//	Σ yᵢ ηᵢ − ln(1 + e^ηᵢ) − λ/2 Σ_{j penalised} βⱼ²,  η = Xβ,
//
// by Newton's method, which for the logistic model is iteratively reweighted least
// squares: each step solves (XᵀWX + λI)Δ = Xᵀ(y − p) − λβ with W = diag(p(1 − p)),
// by Cholesky factorisation (the matrix is positive definite for λ > 0). Column 0
// is the intercept and is not penalised. A step that lowers the objective is halved
// (damped Newton), so the iteration cannot diverge; it stops when the objective
// changes by less than 1e-10 relative and no coefficient moves by more than 1e-7.
func fitLogistic(ctx context.Context, d *design, y []float64, lambda float64) (fit, error) {
	p := d.p
	beta := make([]float64, p)
	// Start the intercept at the log-odds of the base rate: Newton then converges in
	// a handful of steps.
	mean := 0.0
	for _, v := range y {
		mean += v
	}
	mean /= float64(len(y))
	beta[0] = math.Log(mean / (1 - mean))

	objective := func(b []float64) (obj, ll float64) {
		for i := 0; i < d.n; i++ {
			e := d.eta(i, b)
			ll += y[i]*e - softplus(e)
		}
		pen := 0.0
		for j := 1; j < p; j++ {
			pen += b[j] * b[j]
		}
		return ll - lambda/2*pen, ll
	}
	obj, ll := objective(beta)
	h := make([]float64, p*p)
	g := make([]float64, p)
	var chol mat.Cholesky
	step := mat.NewVecDense(p, nil)
	next := make([]float64, p)
	const maxIter = 100
	for it := 1; it <= maxIter; it++ {
		if err := ctx.Err(); err != nil {
			return fit{}, err
		}
		clear(h)
		clear(g)
		for i := 0; i < d.n; i++ {
			pi := sigmoid(d.eta(i, beta))
			w := pi * (1 - pi)
			r := y[i] - pi
			lo, hi := d.rowPtr[i], d.rowPtr[i+1]
			for a := lo; a < hi; a++ {
				ja, va := int(d.col[a]), d.val[a]
				g[ja] += va * r
				wa := w * va
				row := h[ja*p:]
				for b := a; b < hi; b++ {
					row[d.col[b]] += wa * d.val[b]
				}
			}
		}
		for j := 1; j < p; j++ {
			g[j] -= lambda * beta[j]
			h[j*p+j] += lambda
		}
		// Columns are added in increasing order, so only the upper triangle is filled,
		// which is the half NewSymDense reads.
		if ok := chol.Factorize(mat.NewSymDense(p, h)); !ok {
			return fit{}, fmt.Errorf("the Hessian is not positive definite (constant or duplicate inputs with no L2 penalty)")
		}
		if err := chol.SolveVecTo(step, mat.NewVecDense(p, g)); err != nil {
			return fit{}, fmt.Errorf("solving the Newton step: %w", err)
		}
		t := 1.0
		var nobj, nll float64
		for halvings := 0; ; halvings++ {
			for j := range next {
				next[j] = beta[j] + t*step.AtVec(j)
			}
			nobj, nll = objective(next)
			if nobj >= obj-1e-12*math.Abs(obj) || halvings == 30 {
				break
			}
			t /= 2
		}
		maxMove := 0.0
		for j := range next {
			maxMove = max(maxMove, math.Abs(next[j]-beta[j]))
		}
		copy(beta, next)
		change := math.Abs(nobj - obj)
		obj, ll = nobj, nll
		if change <= 1e-10*math.Abs(obj) && maxMove <= 1e-7 {
			return fit{beta: beta, iterations: it, logLik: ll}, nil
		}
	}
	return fit{}, fmt.Errorf("the logistic regression did not converge in %d Newton steps", maxIter)
}
