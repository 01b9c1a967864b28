package credit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/scorecard"
	"github.com/dataport/dataport/store"
)

// FeatureSource computes a merchant's features inside a transaction of the
// caller's: finance.Service is one. Credit reads features through it alone.
type FeatureSource interface {
	FeaturesIn(tx *store.Tx, merchantID string, asOf time.Time) (finance.FeatureSet, error)
}

var _ FeatureSource = (*finance.Service)(nil)

// Options adjust the service. The zero value is right for production.
type Options struct {
	// Policy is the credit-line policy; DefaultPolicy when zero.
	Policy Policy
}

// Service makes credit decisions and reads them back.
type Service struct {
	db       *store.DB
	reg      *registry.Service
	features FeatureSource
	model    *scorecard.Model
	policy   Policy
	hooks    []func(tx *store.Tx, d Decision) error
	catalog  Catalog      // where merchants list their data; see ListThrough
	attested AttestedData // what they attested, to describe it
}

// New returns the service over db, deciding with model (the committed
// DefaultModel when nil). It checks that the model still matches its content id
// and scores the characteristics Inputs gives, and that the policy is sound.
func New(db *store.DB, reg *registry.Service, features FeatureSource, model *scorecard.Model, opts Options) (*Service, error) {
	const op = "credit.New"
	if model == nil {
		var err error
		if model, err = DefaultModel(); err != nil {
			return nil, dataport.Wrap(op, err)
		}
	}
	if err := model.Verify(); err != nil {
		return nil, dataport.Wrap(op, err)
	}
	for _, f := range model.Features {
		if !slices.Contains(InputNames, f.Name) {
			return nil, dataport.Errorf(op, dataport.KindInvalid, "model %s scores %q, which is not one of credit's inputs", model.ID, f.Name)
		}
	}
	// Scoring once here also builds the model's lookups before any request can
	// race to build them.
	empty := map[string]any{}
	for _, n := range InputNames {
		empty[n] = nil
	}
	if _, err := model.Score(empty); err != nil {
		return nil, dataport.Wrap(op, err)
	}
	if opts.Policy == (Policy{}) {
		opts.Policy = DefaultPolicy()
	}
	p := opts.Policy
	var probs dataport.Problems
	if !(p.AdvanceRate >= 0 && p.AdvanceRate <= 1) {
		probs.Add("policy.advance_rate", "from 0 to 1")
	}
	if !(p.SalesShare >= 0 && p.SalesShare <= 3) {
		probs.Add("policy.sales_share", "from 0 to 3")
	}
	for i, c := range p.Caps {
		if c < 0 {
			probs.Add(fmt.Sprintf("policy.caps[%d]", i), "not negative")
		}
	}
	if p.Unit < 1 {
		probs.Add("policy.unit", "at least 1 (fen)")
	}
	if err := probs.Err(op); err != nil {
		return nil, err
	}
	return &Service{db: db, reg: reg, features: features, model: model, policy: p}, nil
}

// Model is the scorecard the service decides with.
func (s *Service) Model() *scorecard.Model { return s.model }

// Policy is the credit-line policy the service applies.
func (s *Service) Policy() Policy { return s.policy }

// OnDecided registers fn to run in the transaction of every decision, after
// the decision is stored and filed: another capability acts on it in the same
// transaction (lending publishes offers to financial institutions). An error
// from fn rolls back everything, the decision and its filing included, and
// Decide returns it. Register before serving: it is not safe to call
// concurrently with Decide.
func (s *Service) OnDecided(fn func(tx *store.Tx, d Decision) error) {
	s.hooks = append(s.hooks, fn)
}

// Decide makes a credit decision for the merchant as of now: the merchant
// itself (acting in its merchant role) or the operator.
//
// In one write transaction it checks the caller and the merchant, computes the
// merchant's features as of the transaction's time, reads the model's inputs
// from them and hashes them, scores them, grades the probability of default on
// the master scale, works out the line by the policy, stores the decision,
// files it (credit.decided) and runs the OnDecided hooks. All of it commits, or
// none of it.
//
// Errors: KindConflict when the merchant has sent no attested order data;
// KindNotFound for an unknown participant, one that is not a merchant, or
// another merchant's id; KindForbidden for a suspended merchant or caller, or a
// merchant's key without the merchant role; KindUnauthorized; whatever a hook
// returns.
func (s *Service) Decide(ctx context.Context, actor dataport.Actor, merchantID string) (Decision, error) {
	const op = "credit.Decide"
	var d Decision
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := s.mayDecide(tx, op, actor, merchantID); err != nil {
			return err
		}
		now := tx.Now()
		fs, err := s.features.FeaturesIn(tx, merchantID, now)
		if err != nil {
			return dataport.Wrap(op, err)
		}
		if fs.DataThrough == 0 {
			return dataport.Errorf(op, dataport.KindConflict,
				"merchant %s has no attested order data: connect its shops and send their orders before asking for a decision", merchantID)
		}
		if d, err = s.assess(fs); err != nil {
			return dataport.Wrap(op, err)
		}
		d.ID, d.MerchantID, d.DecidedAt, d.DecidedBy = dataport.NewID("cdec"), merchantID, now, actor.ParticipantID
		filed, err := d.filed()
		if err != nil {
			return dataport.Internal(op, err)
		}
		f, err := ledger.File(tx, actor, ledger.Change{Type: "credit.decided", Subjects: []string{merchantID, d.ID}, Payload: filed})
		if err != nil {
			return err
		}
		d.FilingSeq = f.Seq
		body, err := json.Marshal(d)
		if err != nil {
			return dataport.Internal(op, err)
		}
		if _, err := tx.Exec(`INSERT INTO credit_decisions (id, merchant_id, decided_at, decided_by, model_id, model_version,
			feature_hash, data_through, score, grade, line_amount, line_currency, filing_seq, decision)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			d.ID, d.MerchantID, store.FormatTime(d.DecidedAt), d.DecidedBy, d.Model.ID, d.Model.Version, d.FeatureHash,
			d.DataThrough, d.Score, string(d.Grade), d.Line.Amount, d.Line.Currency, d.FilingSeq, string(body)); err != nil {
			return dataport.Internal(op, err)
		}
		for _, h := range s.hooks {
			if err := h(tx, d); err != nil {
				return dataport.Wrap(op, err)
			}
		}
		return nil
	})
	if err != nil {
		return Decision{}, err
	}
	return d, nil
}

// assess computes a decision from features, without storing anything: inputs,
// their hash, score, PD, grade, reasons and line.
func (s *Service) assess(fs finance.FeatureSet) (Decision, error) {
	in := Inputs(fs)
	hash, err := FeatureHash(in, fs.DataThrough, s.model.ID)
	if err != nil {
		return Decision{}, err
	}
	sc, err := s.model.Score(in)
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Model: ModelRef{ID: s.model.ID, Version: s.model.Version}, FeatureHash: hash, DataThrough: fs.DataThrough,
		Inputs: in, Score: int64(math.Round(sc.Points)), PD: sc.PD, Grade: GradeOf(sc.PD), Reasons: make([]Reason, 0, len(sc.Reasons))}
	for _, r := range sc.Reasons {
		d.Reasons = append(d.Reasons, Reason{Characteristic: r.Feature, Value: in[r.Feature], Bin: r.Bin,
			Points: round2(r.Points), PointsLost: round2(r.PointsLost)})
	}
	d.Line, d.LineBasis = s.policy.Line(d.Grade, fs)
	return d, nil
}

// mayDecide checks that actor may ask for a decision on merchantID: the
// merchant itself acting in its merchant role, or the operator; the caller and
// the merchant active. To anyone else there is no such merchant.
func (s *Service) mayDecide(tx *store.Tx, op string, actor dataport.Actor, merchantID string) error {
	if err := registry.MayAct(tx, op, actor); err != nil {
		return err
	}
	operator := actor.Has(dataport.RoleOperator)
	if !operator && actor.ParticipantID != merchantID {
		return noMerchant(op, merchantID)
	}
	if !operator && !actor.Has(dataport.RoleMerchant) {
		return dataport.Errorf(op, dataport.KindForbidden, "this needs the merchant role")
	}
	return s.merchant(tx, op, merchantID, true)
}

// mayRead checks that actor may read merchantID's decisions: the merchant
// itself in its merchant role (suspended or not), the operator or a regulator —
// who oversee, and so also read a suspended merchant's decisions. To anyone else there is no
// such merchant.
func (s *Service) mayRead(tx *store.Tx, op string, actor dataport.Actor, merchantID string) error {
	// A suspended merchant still reads its own decisions: a suspension stops changes,
	// not a participant's view of its own records (README, "The API in brief").
	if err := registry.MayAct(tx, op, actor); err != nil && dataport.KindOf(err) != dataport.KindForbidden {
		return err
	}
	oversee := actor.Has(dataport.RoleOperator, dataport.RoleRegulator)
	if !oversee && actor.ParticipantID != merchantID {
		return noMerchant(op, merchantID)
	}
	if !oversee && !actor.Has(dataport.RoleMerchant) {
		return dataport.Errorf(op, dataport.KindForbidden, "this needs the merchant role")
	}
	return s.merchant(tx, op, merchantID, false)
}

// merchant checks that merchantID is a merchant, and when active is set that
// it is not suspended.
func (s *Service) merchant(tx *store.Tx, op, merchantID string, active bool) error {
	p, err := s.reg.Participant(tx, merchantID)
	if dataport.KindOf(err) == dataport.KindNotFound {
		return noMerchant(op, merchantID)
	}
	if err != nil {
		return dataport.Wrap(op, err)
	}
	if !p.Has(dataport.RoleMerchant) {
		return noMerchant(op, merchantID)
	}
	if active && p.Status == registry.Suspended {
		return dataport.Errorf(op, dataport.KindForbidden, "merchant %s is suspended by the exchange", merchantID)
	}
	return nil
}

func noMerchant(op, id string) error {
	return dataport.Errorf(op, dataport.KindNotFound, "no merchant %s", id)
}

// Latest returns the merchant's latest decision: the merchant itself, the
// operator or a regulator. KindNotFound when it has none.
func (s *Service) Latest(ctx context.Context, actor dataport.Actor, merchantID string) (Decision, error) {
	const op = "credit.Latest"
	var d Decision
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		if err := s.mayRead(tx, op, actor, merchantID); err != nil {
			return err
		}
		var ok bool
		var err error
		if d, ok, err = s.LatestIn(tx, merchantID); err != nil {
			return dataport.Wrap(op, err)
		}
		if !ok {
			return dataport.Errorf(op, dataport.KindNotFound, "merchant %s has no credit decision yet", merchantID)
		}
		return nil
	})
	return d, err
}

// LatestIn returns the merchant's latest decision inside another capability's
// transaction, and whether there is one. It checks no permission: the caller
// has checked its own.
func (s *Service) LatestIn(tx *store.Tx, merchantID string) (Decision, bool, error) {
	d, err := scanDecision(tx.QueryRow(`SELECT decision FROM credit_decisions WHERE merchant_id = $1
		ORDER BY filing_seq DESC LIMIT 1`, merchantID))
	if errors.Is(err, sql.ErrNoRows) {
		return Decision{}, false, nil
	}
	if err != nil {
		return Decision{}, false, dataport.Internal("credit.LatestIn", err)
	}
	return d, true, nil
}

// Get returns a decision by id: its merchant, the operator or a regulator.
// To anyone else it does not exist.
func (s *Service) Get(ctx context.Context, actor dataport.Actor, decisionID string) (Decision, error) {
	const op = "credit.Get"
	var d Decision
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		var err error
		d, err = scanDecision(tx.QueryRow(`SELECT decision FROM credit_decisions WHERE id = $1`, decisionID))
		if errors.Is(err, sql.ErrNoRows) {
			return noDecision(op, decisionID)
		}
		if err != nil {
			return dataport.Internal(op, err)
		}
		err = s.mayRead(tx, op, actor, d.MerchantID)
		if dataport.KindOf(err) == dataport.KindNotFound {
			return noDecision(op, decisionID)
		}
		return err
	})
	if err != nil {
		return Decision{}, err
	}
	return d, nil
}

func noDecision(op, id string) error {
	return dataport.Errorf(op, dataport.KindNotFound, "no credit decision %s", id)
}

// History lists the merchant's decisions, newest first, at most limit (100
// when 0, 1,000 at most), older than the decision before (paging; "" for the
// newest): the merchant itself, the operator or a regulator.
func (s *Service) History(ctx context.Context, actor dataport.Actor, merchantID, before string, limit int) ([]Decision, error) {
	const op = "credit.History"
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	var out []Decision
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		if err := s.mayRead(tx, op, actor, merchantID); err != nil {
			return err
		}
		q := `SELECT decision FROM credit_decisions WHERE merchant_id = $1`
		args := []any{merchantID, limit}
		if before != "" {
			// A decision of another merchant, or none, pages to nothing.
			q += ` AND filing_seq < (SELECT filing_seq FROM credit_decisions WHERE id = $3 AND merchant_id = $1)`
			args = append(args, before)
		}
		rows, err := tx.Query(q+` ORDER BY filing_seq DESC LIMIT $2`, args...)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		out = []Decision{}
		for rows.Next() {
			d, err := scanDecision(rows)
			if err != nil {
				return dataport.Internal(op, err)
			}
			out = append(out, d)
		}
		return dataport.Wrap(op, rows.Err())
	})
	return out, err
}

type scanner interface{ Scan(...any) error }

func scanDecision(r scanner) (Decision, error) {
	var body string
	if err := r.Scan(&body); err != nil {
		return Decision{}, err
	}
	var d Decision
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		return Decision{}, fmt.Errorf("stored decision: %w", err)
	}
	return d, nil
}
