package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
)

// Reads for the regulator's console: a trace bounded by filing time, and the count
// of filings by type. They keep Reader's rule — the operator and regulators read
// every filing, anyone else only the filings about itself — so that a page can call
// them as its signed-in actor.

// TraceFilter selects filings as Filter does, and also by when they were filed.
type TraceFilter struct {
	Filter
	// From and Until bound the filing time: From ≤ filed_at < Until; zero is no
	// bound.
	From, Until time.Time
}

// Trace returns the filings matching f that the actor may read, in sequence order.
func (r *Reader) Trace(ctx context.Context, actor dataport.Actor, f TraceFilter) ([]Filing, error) {
	const op = "ledger.Reader.Trace"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if !seesAll(actor) {
		if f.Subject != "" && f.Subject != actor.ParticipantID {
			return nil, dataport.Errorf(op, dataport.KindForbidden, "a participant reads only the filings about itself")
		}
		f.Subject = actor.ParticipantID
	}
	if !f.From.IsZero() && !f.Until.IsZero() && !f.From.Before(f.Until) {
		return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "until", Message: "must be after from: the period is empty"})
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > 1000 {
		f.Limit = 1000
	}
	q := `SELECT f.seq, f.filed_at, f.actor, f.key_id, f.type, f.payload, f.entry, f.sha256 FROM filings f`
	args := []any{f.After}
	where := ` WHERE f.seq > $1`
	if f.Subject != "" {
		args = append(args, f.Subject)
		q += ` JOIN filing_subjects s ON s.seq = f.seq`
		where += fmt.Sprintf(` AND s.subject = $%d`, len(args))
	}
	if f.Type != "" {
		args = append(args, f.Type)
		where += fmt.Sprintf(` AND f.type = $%d`, len(args))
	}
	// Stored times are fixed-width UTC text (store.FormatTime), so that they
	// compare as text in both engines.
	if !f.From.IsZero() {
		args = append(args, store.FormatTime(f.From))
		where += fmt.Sprintf(` AND f.filed_at >= $%d`, len(args))
	}
	if !f.Until.IsZero() {
		args = append(args, store.FormatTime(f.Until))
		where += fmt.Sprintf(` AND f.filed_at < $%d`, len(args))
	}
	args = append(args, f.Limit)
	q += where + fmt.Sprintf(` ORDER BY f.seq LIMIT $%d`, len(args))
	var out []Filing
	err := r.db.Read(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			fl, err := scan(rows)
			if err != nil {
				return err
			}
			out = append(out, fl)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	return out, nil
}

// TypeCount is how many filings there are of one type.
type TypeCount struct {
	Type  string `json:"type"`
	Count int64  `json:"count"`
}

// CountByType counts the filings the actor may read by type, the most frequent
// first (equal counts by type).
func (r *Reader) CountByType(ctx context.Context, actor dataport.Actor) ([]TypeCount, error) {
	const op = "ledger.Reader.CountByType"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	q := `SELECT type, COUNT(*) FROM filings GROUP BY type ORDER BY COUNT(*) DESC, type`
	var args []any
	if !seesAll(actor) {
		q = `SELECT f.type, COUNT(*) FROM filings f JOIN filing_subjects s ON s.seq = f.seq
			WHERE s.subject = $1 GROUP BY f.type ORDER BY COUNT(*) DESC, f.type`
		args = append(args, actor.ParticipantID)
	}
	var out []TypeCount
	err := r.db.Read(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c TypeCount
			if err := rows.Scan(&c.Type, &c.Count); err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	return out, nil
}
