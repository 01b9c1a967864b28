package ledger

import (
	"context"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
)

// Reads for the regulator's console: the count of filings by type. They keep Reader's rule — the operator and regulators read
// every filing, anyone else only the filings about itself — so that a page can call
// it as its signed-in actor. (A trace bounded by filing time is Reader.List with
// Filter.From and Until.)

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
