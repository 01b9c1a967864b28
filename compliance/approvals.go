package compliance

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// The approvals registry (R13, R16–R18). The CAC's own decisions — security
// assessment approvals, standard-contract filings, PI export certifications — are
// recorded by the operator once it has checked the document; an exporter records its
// own declarations (the R13 PIPIA report, notice and consent declarations) and FTZ
// post-export reports. Every record cites its evidence, an uploaded attachment.

// cacIssued are the kinds only the operator records.
var cacIssued = []string{"security_assessment", "standard_contract", "pi_certification"}

// RecordedApproval is an approval on file with who recorded it.
type RecordedApproval struct {
	Approval
	RevokedReason string    `json:"revoked_reason,omitempty"`
	RecordedBy    string    `json:"recorded_by"`
	RecordedAt    time.Time `json:"recorded_at"`
}

func validDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

func (a *Approval) validate(p *dataport.Problems) {
	a.Reference = strings.TrimSpace(a.Reference)
	if !slices.Contains(ApprovalKinds, a.Kind) {
		p.Add("kind", "one of %s", strings.Join(ApprovalKinds, ", "))
	}
	if a.Reference == "" || len(a.Reference) > 200 {
		p.Add("reference", "the approval, filing, certificate or receipt number")
	}
	if a.ExporterID == "" {
		p.Add("exporter_id", "the exporter the approval belongs to")
	}
	if !validDate(a.IssuedOn) {
		p.Add("issued_on", "a date, YYYY-MM-DD")
	}
	for field, d := range map[string]string{"effective_on": a.EffectiveOn, "filed_on": a.FiledOn, "valid_until": a.ValidUntil} {
		if d != "" && !validDate(d) {
			p.Add(field, "a date, YYYY-MM-DD")
		}
	}
	if a.Kind == "standard_contract" && a.EffectiveOn == "" {
		p.Add("effective_on", "a standard contract's filing runs from the day the contract took effect (R18)")
	}
	if a.Kind != "standard_contract" && (a.EffectiveOn != "" || a.FiledOn != "") {
		p.Add("effective_on", "only standard contracts have effective and filing dates")
	}
	if a.FiledOn != "" && a.EffectiveOn != "" && a.FiledOn < a.EffectiveOn {
		p.Add("filed_on", "filed before the contract took effect")
	}
	if a.ValidUntil != "" && validDate(a.IssuedOn) && a.ValidUntil < a.IssuedOn {
		p.Add("valid_until", "ends before it was issued")
	}
	if a.Extended && a.Kind != "security_assessment" {
		p.Add("extended", "only security assessments are extended")
	}
	if !blob.ValidAddress(a.EvidenceSHA256) {
		p.Add("evidence_sha256", "the SHA-256 of the evidence, uploaded as an attachment first")
	}
	for i, r := range a.Recipients {
		if strings.TrimSpace(r) == "" {
			p.Add(fmt.Sprintf("recipients[%d]", i), "a participant id or an ISO 3166 code")
		}
	}
}

// RecordApproval files an approval. The operator records any; an exporter records
// its own declarations and post-export reports.
func (s *Service) RecordApproval(ctx context.Context, actor dataport.Actor, a Approval) (RecordedApproval, error) {
	const op = "compliance.RecordApproval"
	if actor.Anonymous() {
		return RecordedApproval{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var p dataport.Problems
	a.validate(&p)
	a.ID, a.Revoked = "", false
	if err := p.Err(op); err != nil {
		return RecordedApproval{}, err
	}
	operator := actor.Has(dataport.RoleOperator)
	switch {
	case !operator && slices.Contains(cacIssued, a.Kind):
		return RecordedApproval{}, dataport.Errorf(op, dataport.KindForbidden, "%s approvals are recorded by the operator from the authority's document", a.Kind)
	case !operator && a.ExporterID != actor.ParticipantID:
		return RecordedApproval{}, dataport.Errorf(op, dataport.KindForbidden, "a participant records its own declarations only")
	}
	var out RecordedApproval
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		if _, err := s.reg.Participant(tx, a.ExporterID); err != nil {
			return dataport.Invalid(op, dataport.FieldProblem{Field: "exporter_id", Message: "no such participant"})
		}
		var n int
		if err := tx.QueryRow(`SELECT COUNT(*) FROM attachments WHERE sha256 = $1 AND participant_id IN ($2, $3)`,
			a.EvidenceSHA256, actor.ParticipantID, a.ExporterID).Scan(&n); err != nil {
			return dataport.Internal(op, err)
		}
		if n == 0 {
			return dataport.Invalid(op, dataport.FieldProblem{Field: "evidence_sha256", Message: "no attachment with this hash was uploaded by you or the exporter"})
		}
		if err := tx.QueryRow(`SELECT COUNT(*) FROM approvals WHERE kind = $1 AND reference = $2`, a.Kind, a.Reference).Scan(&n); err != nil {
			return dataport.Internal(op, err)
		}
		if n > 0 {
			return dataport.Errorf(op, dataport.KindConflict, "a %s with reference %s is on file", a.Kind, a.Reference)
		}
		a.ID = dataport.NewID("apv")
		out = RecordedApproval{Approval: a, RecordedBy: actor.ParticipantID, RecordedAt: tx.Now()}
		recipients, _ := json.Marshal(append([]string{}, a.Recipients...))
		categories, _ := json.Marshal(append([]string{}, a.Categories...))
		now := store.FormatTime(out.RecordedAt)
		if _, err := tx.Exec(`INSERT INTO approvals (id, kind, reference, exporter_id, recipients, categories, issued_on, effective_on,
			filed_on, valid_until, extended, revoked, revoked_reason, evidence_sha256, recorded_by, recorded_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, '', $12, $13, $14, $14)`,
			a.ID, a.Kind, a.Reference, a.ExporterID, string(recipients), string(categories), a.IssuedOn, a.EffectiveOn, a.FiledOn,
			a.ValidUntil, boolInt(a.Extended), a.EvidenceSHA256, actor.ParticipantID, now); err != nil {
			return dataport.Internal(op, err)
		}
		_, err := ledger.File(tx, actor, ledger.Change{Type: "compliance.approval_recorded", Subjects: []string{a.ID, a.ExporterID},
			Payload: map[string]any{"approval_id": a.ID, "kind": a.Kind, "reference": a.Reference, "exporter_id": a.ExporterID,
				"issued_on": a.IssuedOn, "valid_until": a.ValidUntil, "evidence_sha256": a.EvidenceSHA256}})
		return err
	})
	return out, err
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// RevokeApproval sets an approval aside (withdrawn by the authority, recorded in
// error). Operator only.
func (s *Service) RevokeApproval(ctx context.Context, actor dataport.Actor, id, reason string) (RecordedApproval, error) {
	const op = "compliance.RevokeApproval"
	if err := operatorOnly(op, actor); err != nil {
		return RecordedApproval{}, err
	}
	if reason = strings.TrimSpace(reason); reason == "" {
		return RecordedApproval{}, dataport.Invalid(op, dataport.FieldProblem{Field: "reason", Message: "say why"})
	}
	var out RecordedApproval
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		a, err := approval(tx, op, id)
		if err != nil {
			return err
		}
		if a.Revoked {
			return dataport.Errorf(op, dataport.KindConflict, "approval %s is revoked already", id)
		}
		if _, err := tx.Exec(`UPDATE approvals SET revoked = 1, revoked_reason = $2, updated_at = $3 WHERE id = $1`,
			id, reason, store.FormatTime(tx.Now())); err != nil {
			return dataport.Internal(op, err)
		}
		a.Revoked, a.RevokedReason = true, reason
		out = a
		_, err = ledger.File(tx, actor, ledger.Change{Type: "compliance.approval_revoked", Subjects: []string{id, a.ExporterID},
			Payload: map[string]any{"approval_id": id, "reason": reason}})
		return err
	})
	return out, err
}

const approvalColumns = `id, kind, reference, exporter_id, recipients, categories, issued_on, effective_on, filed_on, valid_until,
	extended, revoked, revoked_reason, evidence_sha256, recorded_by, recorded_at`

func scanApproval(row interface{ Scan(...any) error }) (RecordedApproval, error) {
	var a RecordedApproval
	var recipients, categories, at string
	var extended, revoked int64
	err := row.Scan(&a.ID, &a.Kind, &a.Reference, &a.ExporterID, &recipients, &categories, &a.IssuedOn, &a.EffectiveOn, &a.FiledOn,
		&a.ValidUntil, &extended, &revoked, &a.RevokedReason, &a.EvidenceSHA256, &a.RecordedBy, &at)
	if err != nil {
		return RecordedApproval{}, err
	}
	json.Unmarshal([]byte(recipients), &a.Recipients)
	json.Unmarshal([]byte(categories), &a.Categories)
	a.Extended, a.Revoked = extended == 1, revoked == 1
	a.RecordedAt, _ = store.ParseTime(at)
	return a, nil
}

func approval(tx *store.Tx, op, id string) (RecordedApproval, error) {
	a, err := scanApproval(tx.QueryRow(`SELECT `+approvalColumns+` FROM approvals WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return RecordedApproval{}, dataport.Errorf(op, dataport.KindNotFound, "no approval %s", id)
	}
	if err != nil {
		return RecordedApproval{}, dataport.Internal(op, err)
	}
	return a, nil
}

func listApprovals(tx *store.Tx, where string, args ...any) ([]RecordedApproval, error) {
	rows, err := tx.Query(`SELECT `+approvalColumns+` FROM approvals `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RecordedApproval
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// approvalsOf reads an exporter's approvals as the evaluator takes them.
func approvalsOf(tx *store.Tx, exporter string) ([]Approval, error) {
	rs, err := listApprovals(tx, `WHERE exporter_id = $1 AND revoked = 0`, exporter)
	out := make([]Approval, len(rs))
	for i, r := range rs {
		out[i] = r.Approval
	}
	return out, err
}

// Approvals lists an exporter's approvals: the exporter, the operator and regulators.
func (s *Service) Approvals(ctx context.Context, actor dataport.Actor, exporter string) ([]RecordedApproval, error) {
	const op = "compliance.Approvals"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if actor.ParticipantID != exporter && !actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
		return nil, dataport.Errorf(op, dataport.KindNotFound, "no participant %s", exporter)
	}
	out := []RecordedApproval{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		as, err := listApprovals(tx, `WHERE exporter_id = $1`, exporter)
		out = append(out, as...)
		return dataport.Wrap(op, err)
	})
	return out, err
}

// Due is an entry of the operator's expiry queue.
type Due struct {
	Approval RecordedApproval `json:"approval"`
	Rule     string           `json:"rule" doc:"R16, R17, R18 or the approval's own term"`
	Due      string           `json:"due" doc:"the day it lapses (or lapsed), or the last day it could be filed"`
	Reason   Bilingual        `json:"reason"`
}

// ExpiryQueue lists what needs the operator's attention: approvals that lapse within
// the pack's warning window in working days (R16: 60), or have lapsed in the last
// 30 days, and standard contracts not filed within their 10 working days (R18).
// Operator and regulators.
func (s *Service) ExpiryQueue(ctx context.Context, actor dataport.Actor) ([]Due, error) {
	const op = "compliance.ExpiryQueue"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if !actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
		return nil, dataport.Errorf(op, dataport.KindForbidden, "the expiry queue is the operator's")
	}
	out := []Due{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		p, err := s.pack(tx)
		if err != nil {
			return dataport.Internal(op, err)
		}
		today := Today(tx.Now())
		years := intData(p, "validity_years", 3)
		warn := p.WorkingDaysAfter(today, intData(p, "extension_notice_working_days", 60))
		filingDays := intData(p, "filing_due_working_days", 10)
		as, err := listApprovals(tx, `WHERE revoked = 0`)
		if err != nil {
			return dataport.Internal(op, err)
		}
		for _, a := range as {
			issued, _ := time.Parse(time.DateOnly, a.IssuedOn)
			add := func(rule, due string, reason Bilingual) {
				out = append(out, Due{Approval: a, Rule: rule, Due: due, Reason: reason})
			}
			var lapse time.Time
			rule := ""
			switch a.Kind {
			case "security_assessment":
				n := years
				if a.Extended {
					n *= 2
				}
				lapse, rule = issued.AddDate(n, 0, 0), "R16"
			case "pi_certification":
				lapse, rule = issued.AddDate(years, 0, 0), "R17"
			case "standard_contract":
				eff, _ := time.Parse(time.DateOnly, a.EffectiveOn)
				due := p.WorkingDaysAfter(eff, filingDays)
				if a.FiledOn == "" || a.FiledOn > due.Format(time.DateOnly) {
					add("R18", due.Format(time.DateOnly), Bilingual{En: "Standard contract not filed within 10 working days of taking effect.",
						Zh: "标准合同未在生效后10个工作日内备案。"})
				}
			}
			if a.ValidUntil != "" {
				if vu, err := time.Parse(time.DateOnly, a.ValidUntil); err == nil && (lapse.IsZero() || vu.Before(lapse)) {
					lapse, rule = vu.AddDate(0, 0, 1), "term"
				}
			}
			if !lapse.IsZero() && lapse.Before(warn.AddDate(0, 0, 1)) && lapse.After(today.AddDate(0, 0, -30)) {
				add(rule, lapse.Format(time.DateOnly), Bilingual{En: "The approval lapses on the due day; apply for renewal or extension in time.",
					Zh: "该批准将于到期日失效，请及时申请续期或延期。"})
			}
		}
		return nil
	})
	return out, err
}

func intData(p *Pack, key string, def int) int {
	if v, ok := p.data[key].(int64); ok {
		return int(v)
	}
	return def
}
