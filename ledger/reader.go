package ledger

import (
	"context"
	"slices"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
)

// Reader serves filings to callers. The operator and regulators read every filing
// (交易備案 is for tracing); any other participant reads the filings about itself.
type Reader struct {
	db *store.DB
}

// NewReader returns a Reader over db.
func NewReader(db *store.DB) *Reader { return &Reader{db: db} }

func seesAll(actor dataport.Actor) bool {
	return actor.Has(dataport.RoleOperator, dataport.RoleRegulator)
}

// List returns filings matching f that the actor may read, in sequence order.
func (r *Reader) List(ctx context.Context, actor dataport.Actor, f Filter) ([]Filing, error) {
	const op = "ledger.Reader.List"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if !seesAll(actor) {
		if f.Subject != "" && f.Subject != actor.ParticipantID {
			return nil, dataport.Errorf(op, dataport.KindForbidden, "a participant reads only the filings about itself")
		}
		f.Subject = actor.ParticipantID
	}
	var out []Filing
	err := r.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		out, err = List(tx, f)
		return err
	})
	return out, err
}

// Get returns one filing the actor may read.
func (r *Reader) Get(ctx context.Context, actor dataport.Actor, seq int64) (Filing, error) {
	const op = "ledger.Reader.Get"
	if actor.Anonymous() {
		return Filing{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var f Filing
	err := r.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		f, err = Get(tx, seq)
		return err
	})
	if err != nil {
		return Filing{}, err
	}
	if !seesAll(actor) && !slices.Contains(f.Subjects, actor.ParticipantID) {
		return Filing{}, dataport.Errorf(op, dataport.KindNotFound, "no filing %d", seq)
	}
	return f, nil
}
