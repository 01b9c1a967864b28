package compliance

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/gowebpki/jcs"
)

// Participants is what the engine needs of the registry.
type Participants interface {
	Participant(tx *store.Tx, id string) (registry.Participant, error)
}

// Service is the compliance engine: rule packs, approvals, counters, assessments.
type Service struct {
	db     *store.DB
	reg    Participants
	signer Signer // the exchange's key: certifies agency contracts

	mu     sync.Mutex
	active *Pack // the compiled active pack, by version and hash
}

// china is the calendar the rules count days and years in.
var china = dataport.China

// Today is the date in China of t.
func Today(t time.Time) time.Time { return day(t.In(china)) }

// New returns the engine over db, certifying with signer. At the first start on a
// database it installs and activates the embedded default pack (filed), so an
// assessment always has a pack.
func New(ctx context.Context, db *store.DB, reg Participants, signer Signer) (*Service, error) {
	s := &Service{db: db, reg: reg, signer: signer}
	var n int
	if err := db.Read(ctx, func(tx *store.Tx) error {
		return tx.QueryRow(`SELECT COUNT(*) FROM rule_packs`).Scan(&n)
	}); err != nil {
		return nil, err
	}
	if n > 0 {
		return s, nil
	}
	p, err := Compile(DefaultPackSource)
	if err != nil {
		return nil, fmt.Errorf("the embedded rule pack: %w", err)
	}
	err = db.Write(ctx, func(tx *store.Tx) error {
		// Several servers may start at once: the first one installs it.
		res, err := tx.Exec(`INSERT INTO rule_packs (version, sha256, source, status, uploaded_by, uploaded_at, activated_at)
			SELECT $1, $2, $3, 'active', $4, $5, $5 WHERE NOT EXISTS (SELECT 1 FROM rule_packs)`,
			p.Version, p.SHA256, string(p.Source), dataport.SystemActorID, store.FormatTime(tx.Now()))
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return errInstalled // by another server meanwhile: nothing to write
		}
		_, err = ledger.File(tx, dataport.System, ledger.Change{Type: "compliance.pack_activated", Subjects: []string{"rule-pack:" + p.Version},
			Payload: map[string]any{"version": p.Version, "sha256": p.SHA256, "default": true}})
		return err
	})
	if err != nil && !errors.Is(err, errInstalled) {
		return nil, err
	}
	return s, nil
}

var errInstalled = errors.New("a rule pack is installed")

// pack returns the active pack, compiling it when the active version changed (on
// this server or another).
func (s *Service) pack(tx *store.Tx) (*Pack, error) {
	var version, sum string
	err := tx.QueryRow(`SELECT version, sha256 FROM rule_packs WHERE status = 'active'`).Scan(&version, &sum)
	if err != nil {
		return nil, fmt.Errorf("the active rule pack: %w", err)
	}
	s.mu.Lock()
	p := s.active
	s.mu.Unlock()
	if p != nil && p.Version == version && p.SHA256 == sum {
		return p, nil
	}
	var src string
	if err := tx.QueryRow(`SELECT source FROM rule_packs WHERE version = $1`, version).Scan(&src); err != nil {
		return nil, err
	}
	if p, err = Compile([]byte(src)); err != nil {
		return nil, fmt.Errorf("the active rule pack %s no longer compiles: %w", version, err)
	}
	s.mu.Lock()
	s.active = p
	s.mu.Unlock()
	return p, nil
}

// PackInfo describes a stored pack.
type PackInfo struct {
	Version     string    `json:"version"`
	SHA256      string    `json:"sha256"`
	Status      string    `json:"status" enum:"uploaded,active,retired"`
	Description string    `json:"description,omitempty"`
	Rules       []string  `json:"rules,omitempty"`
	UploadedBy  string    `json:"uploaded_by"`
	UploadedAt  time.Time `json:"uploaded_at"`
	ActivatedAt time.Time `json:"activated_at,omitzero"`
}

// MaxPack is the largest pack source taken.
const MaxPack = 1 << 20

func packProblem(op string, err error) error {
	var pe *PackError
	if errors.As(err, &pe) {
		field := "source"
		if pe.Rule != "" {
			field = "source: " + pe.Rule
		}
		return dataport.Invalid(op, dataport.FieldProblem{Field: field, Message: pe.Error()})
	}
	return dataport.Internal(op, err)
}

// UploadPack compiles a pack and runs its cases; a good one is stored, not yet
// active. Operator only.
func (s *Service) UploadPack(ctx context.Context, actor dataport.Actor, src []byte) (PackInfo, error) {
	const op = "compliance.UploadPack"
	if err := operatorOnly(op, actor); err != nil {
		return PackInfo{}, err
	}
	if len(src) > MaxPack {
		return PackInfo{}, dataport.Errorf(op, dataport.KindTooLarge, "a rule pack is at most %d bytes", MaxPack)
	}
	p, err := Compile(src)
	if err != nil {
		return PackInfo{}, packProblem(op, err)
	}
	info := PackInfo{Version: p.Version, SHA256: p.SHA256, Status: "uploaded", Description: p.Description, Rules: p.Rules(), UploadedBy: actor.ParticipantID}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		info.UploadedAt = tx.Now()
		var n int
		if err := tx.QueryRow(`SELECT COUNT(*) FROM rule_packs WHERE version = $1`, p.Version).Scan(&n); err != nil {
			return dataport.Internal(op, err)
		}
		if n > 0 {
			return dataport.Errorf(op, dataport.KindConflict, "rule pack %s exists: give the new pack a new version", p.Version)
		}
		if _, err := tx.Exec(`INSERT INTO rule_packs (version, sha256, source, status, uploaded_by, uploaded_at, activated_at)
			VALUES ($1, $2, $3, 'uploaded', $4, $5, '')`, p.Version, p.SHA256, string(src), actor.ParticipantID, store.FormatTime(info.UploadedAt)); err != nil {
			return dataport.Internal(op, err)
		}
		_, err := ledger.File(tx, actor, ledger.Change{Type: "compliance.pack_uploaded", Subjects: []string{"rule-pack:" + p.Version},
			Payload: map[string]any{"version": p.Version, "sha256": p.SHA256, "rules": p.Rules()}})
		return err
	})
	return info, err
}

// ActivatePack puts an uploaded (or earlier) pack in force; the one in force before is
// retired. The pack is compiled and its cases run once more first. Operator only.
func (s *Service) ActivatePack(ctx context.Context, actor dataport.Actor, version string) (PackInfo, error) {
	const op = "compliance.ActivatePack"
	if err := operatorOnly(op, actor); err != nil {
		return PackInfo{}, err
	}
	var info PackInfo
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		var src, status, previous string
		err := tx.QueryRow(`SELECT source, status FROM rule_packs WHERE version = $1`, version).Scan(&src, &status)
		if errors.Is(err, sql.ErrNoRows) {
			return dataport.Errorf(op, dataport.KindNotFound, "no rule pack %s", version)
		}
		if err != nil {
			return dataport.Internal(op, err)
		}
		if status == "active" {
			return dataport.Errorf(op, dataport.KindConflict, "rule pack %s is already active", version)
		}
		p, err := Compile([]byte(src))
		if err != nil {
			return packProblem(op, err)
		}
		if err := tx.QueryRow(`SELECT version FROM rule_packs WHERE status = 'active'`).Scan(&previous); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return dataport.Internal(op, err)
		}
		now := store.FormatTime(tx.Now())
		if _, err := tx.Exec(`UPDATE rule_packs SET status = 'retired' WHERE status = 'active'`); err != nil {
			return dataport.Internal(op, err)
		}
		if _, err := tx.Exec(`UPDATE rule_packs SET status = 'active', activated_at = $2 WHERE version = $1`, version, now); err != nil {
			return dataport.Internal(op, err)
		}
		if info, err = packInfo(tx, version); err != nil {
			return dataport.Internal(op, err)
		}
		info.Description, info.Rules = p.Description, p.Rules()
		_, err = ledger.File(tx, actor, ledger.Change{Type: "compliance.pack_activated", Subjects: []string{"rule-pack:" + version},
			Payload: map[string]any{"version": version, "sha256": p.SHA256, "previous": previous}})
		return err
	})
	return info, err
}

func packInfo(tx *store.Tx, version string) (PackInfo, error) {
	var pi PackInfo
	var up, act string
	err := tx.QueryRow(`SELECT version, sha256, status, uploaded_by, uploaded_at, activated_at FROM rule_packs WHERE version = $1`, version).
		Scan(&pi.Version, &pi.SHA256, &pi.Status, &pi.UploadedBy, &up, &act)
	pi.UploadedAt, _ = store.ParseTime(up)
	pi.ActivatedAt, _ = store.ParseTime(act)
	return pi, err
}

// Packs lists the stored packs, newest upload first. Any authenticated participant:
// the rules the exchange applies are public to its members.
func (s *Service) Packs(ctx context.Context, actor dataport.Actor) ([]PackInfo, error) {
	const op = "compliance.Packs"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	out := []PackInfo{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		vs, err := tx.Strings(`SELECT version FROM rule_packs ORDER BY uploaded_at DESC, version`)
		if err != nil {
			return dataport.Internal(op, err)
		}
		for _, v := range vs {
			pi, err := packInfo(tx, v)
			if err != nil {
				return dataport.Internal(op, err)
			}
			out = append(out, pi)
		}
		return nil
	})
	return out, err
}

// PackSource returns a stored pack's YAML.
func (s *Service) PackSource(ctx context.Context, actor dataport.Actor, version string) ([]byte, error) {
	const op = "compliance.PackSource"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var src string
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		err := tx.QueryRow(`SELECT source FROM rule_packs WHERE version = $1`, version).Scan(&src)
		if errors.Is(err, sql.ErrNoRows) {
			return dataport.Errorf(op, dataport.KindNotFound, "no rule pack %s", version)
		}
		return dataport.Wrap(op, err)
	})
	return []byte(src), err
}

func operatorOnly(op string, actor dataport.Actor) error {
	if actor.Anonymous() {
		return dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if !actor.Has(dataport.RoleOperator) {
		return dataport.Errorf(op, dataport.KindForbidden, "the exchange operator's to do")
	}
	return nil
}

// Assessment is a decision with what it was made on.
type Assessment struct {
	ID          string    `json:"id,omitempty" doc:"set when the assessment is filed (listings and deals)"`
	Facts       Facts     `json:"facts" doc:"the facts as assessed, references resolved"`
	FactsSHA256 string    `json:"facts_sha256" doc:"SHA-256 of the facts' canonical JSON"`
	AssessedOn  string    `json:"assessed_on" doc:"the day in China the rules were applied on"`
	FilingSeq   int64     `json:"filing_seq,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	Result
}

// evaluate resolves the engine's side of the facts (approvals on file, year-to-date
// counters) and applies the active pack.
func (s *Service) evaluate(tx *store.Tx, f *Facts) (Assessment, error) {
	p, err := s.pack(tx)
	if err != nil {
		return Assessment{}, err
	}
	now := tx.Now()
	var approvals []Approval
	if f.Exporter.ID != "" {
		if approvals, err = approvalsOf(tx, f.Exporter.ID); err != nil {
			return Assessment{}, err
		}
		if f.PISubjectsYTD == 0 && f.SensitivePISubjectsYTD == 0 {
			if f.PISubjectsYTD, f.SensitivePISubjectsYTD, err = ytd(tx, f.Exporter.ID, now); err != nil {
				return Assessment{}, err
			}
		}
	}
	res, err := p.Evaluate(f, approvals, Today(now))
	if err != nil {
		return Assessment{}, err
	}
	raw, _ := json.Marshal(f)
	canon, err := jcs.Transform(raw)
	if err != nil {
		return Assessment{}, err
	}
	sum := sha256.Sum256(canon)
	return Assessment{Facts: *f, FactsSHA256: hex.EncodeToString(sum[:]), AssessedOn: Today(now).Format(time.DateOnly),
		CreatedAt: now, Result: *res}, nil
}

// WhatIf assesses inline facts without filing anything. Approvals and counters of an
// exporter named by id are consulted when the actor is that exporter, the operator or
// a regulator.
func (s *Service) WhatIf(ctx context.Context, actor dataport.Actor, f Facts) (Assessment, error) {
	const op = "compliance.WhatIf"
	if actor.Anonymous() {
		return Assessment{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var p dataport.Problems
	f.validate(&p)
	if f.Context != "what_if" {
		p.Add("context", "an assessment asked for is a what_if; listings and deals are assessed by the exchange")
	}
	if err := p.Err(op); err != nil {
		return Assessment{}, err
	}
	var a Assessment
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		if f.Exporter.ID != "" {
			if actor.ParticipantID != f.Exporter.ID && !actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
				return dataport.Invalid(op, dataport.FieldProblem{Field: "exporter.id", Message: "only the exporter itself, the operator and regulators assess with an exporter's approvals"})
			}
			if _, err := s.reg.Participant(tx, f.Exporter.ID); err != nil {
				return dataport.Invalid(op, dataport.FieldProblem{Field: "exporter.id", Message: "no such participant"})
			}
		}
		var err error
		a, err = s.evaluate(tx, &f)
		return dataport.Wrap(op, err)
	})
	return a, err
}

// File assesses facts for a listing or a deal in tx and files the assessment.
func (s *Service) File(tx *store.Tx, actor dataport.Actor, subjectID string, f Facts) (Assessment, error) {
	const op = "compliance.File"
	var p dataport.Problems
	f.validate(&p)
	if err := p.Err(op); err != nil {
		return Assessment{}, err
	}
	a, err := s.evaluate(tx, &f)
	if err != nil {
		return Assessment{}, dataport.Internal(op, err)
	}
	a.ID = dataport.NewID("asm")
	facts, _ := json.Marshal(a.Facts)
	result, _ := json.Marshal(a.Result)
	if _, err := tx.Exec(`INSERT INTO assessments (id, context, subject_id, outcome, pack_version, facts, facts_sha256, result, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, a.ID, f.Context, subjectID, a.Outcome, a.PackVersion, string(facts), a.FactsSHA256,
		string(result), actor.ParticipantID, store.FormatTime(a.CreatedAt)); err != nil {
		return Assessment{}, dataport.Internal(op, err)
	}
	subjects := []string{a.ID}
	for _, id := range []string{subjectID, f.Exporter.ID, f.Supplier.ID, f.Agent.ID} {
		if id != "" && !slices.Contains(subjects, id) {
			subjects = append(subjects, id)
		}
	}
	seq, err := ledger.File(tx, actor, ledger.Change{Type: "compliance.assessed", Subjects: subjects,
		Payload: map[string]any{"assessment_id": a.ID, "context": f.Context, "subject_id": subjectID, "outcome": a.Outcome,
			"pack_version": a.PackVersion, "facts_sha256": a.FactsSHA256, "fired": a.FiredIDs(), "requirements": a.RequirementIDs()}})
	if err != nil {
		return Assessment{}, err
	}
	a.FilingSeq = seq.Seq
	return a, nil
}

// ytd reads an exporter's counters for the calendar year of now in China (R14): they
// restart on 1 January.
func ytd(tx *store.Tx, exporter string, now time.Time) (int64, int64, error) {
	var pi, spi int64
	err := tx.QueryRow(`SELECT pi_subjects, sensitive_pi_subjects FROM pi_counters WHERE exporter_id = $1 AND year = $2`,
		exporter, now.In(china).Year()).Scan(&pi, &spi)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	return pi, spi, err
}

// CountExport adds a completed export deal's PI subjects to its exporter's counters
// for the year it completed in (R14), in the deal's transaction.
func CountExport(tx *store.Tx, exporter string, completed time.Time, pi, sensitive int64) error {
	if pi < 0 || sensitive < 0 {
		return dataport.Errorf("compliance.CountExport", dataport.KindInvalid, "negative subject counts")
	}
	_, err := tx.Exec(`INSERT INTO pi_counters (exporter_id, year, pi_subjects, sensitive_pi_subjects) VALUES ($1, $2, $3, $4)
		ON CONFLICT (exporter_id, year) DO UPDATE SET pi_subjects = pi_counters.pi_subjects + excluded.pi_subjects,
		sensitive_pi_subjects = pi_counters.sensitive_pi_subjects + excluded.sensitive_pi_subjects`,
		exporter, completed.In(china).Year(), pi, sensitive)
	return err
}

// Counters are an exporter's year-to-date totals.
type Counters struct {
	ExporterID          string `json:"exporter_id"`
	Year                int    `json:"year"`
	PISubjects          int64  `json:"pi_subjects"`
	SensitivePISubjects int64  `json:"sensitive_pi_subjects"`
}

// YearToDate returns an exporter's counters for this year: the exporter itself, the
// operator and regulators.
func (s *Service) YearToDate(ctx context.Context, actor dataport.Actor, exporter string) (Counters, error) {
	const op = "compliance.YearToDate"
	if actor.ParticipantID != exporter && !actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
		return Counters{}, dataport.Errorf(op, dataport.KindNotFound, "no participant %s", exporter)
	}
	c := Counters{ExporterID: exporter}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		c.Year = tx.Now().In(china).Year()
		var err error
		c.PISubjects, c.SensitivePISubjects, err = ytd(tx, exporter, tx.Now())
		return dataport.Wrap(op, err)
	})
	return c, err
}
