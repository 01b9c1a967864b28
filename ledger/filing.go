// Package ledger files every change the exchange makes (交易備案) and reads the
// filings back.
//
// A filing is written by File inside the same store transaction as the change it
// records, so the two commit or roll back together. Filings are append-only (the
// database refuses UPDATE and DELETE) and numbered by a gap-free sequence whose order
// is commit order. Each filing's entry — the whole filing as RFC 8785 canonical JSON —
// is what the exchange's Merkle log takes as a leaf; its SHA-256 is kept beside it.
package ledger

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
	"github.com/gowebpki/jcs"
)

// MaxEntryBytes caps a filing's entry. C2SP tlog-tiles entry bundles prefix each entry
// with a 16-bit length, so an entry can never exceed 65,535 bytes: large documents are
// stored as blobs and a filing carries their SHA-256.
const MaxEntryBytes = 65535

// Change is what a service files about one change it made.
type Change struct {
	// Type names the event, capability first: "participant.created".
	Type string
	// Subjects are the ids of the records the change is about.
	Subjects []string
	// Payload describes the change; it is filed as canonical JSON. It must not carry
	// secrets, and personal data only where a rule requires it.
	Payload any
}

// Filing is one filed change.
type Filing struct {
	Seq      int64           `json:"seq"`
	FiledAt  time.Time       `json:"filed_at"`
	Actor    string          `json:"actor"`
	KeyID    string          `json:"key_id"`
	Type     string          `json:"type"`
	Subjects []string        `json:"subjects"`
	Payload  json.RawMessage `json:"payload"`
	// Entry is the filing as RFC 8785 canonical JSON: the log leaf.
	Entry []byte `json:"-"`
	// SHA256 is the hex SHA-256 of Entry.
	SHA256 string `json:"sha256"`
}

// entry is the shape of the canonical JSON leaf.
type entry struct {
	Seq      int64           `json:"seq"`
	FiledAt  string          `json:"filed_at"`
	Actor    string          `json:"actor"`
	KeyID    string          `json:"key_id"`
	Type     string          `json:"type"`
	Subjects []string        `json:"subjects"`
	Payload  json.RawMessage `json:"payload"`
}

var typePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

// File writes a filing of change, made by actor, in tx. It is the one way to file.
func File(tx *store.Tx, actor dataport.Actor, change Change) (Filing, error) {
	const op = "ledger.File"
	if !typePattern.MatchString(change.Type) {
		return Filing{}, dataport.Internal(op, fmt.Errorf("filing type %q is not capability.event", change.Type))
	}
	if actor.Anonymous() {
		return Filing{}, dataport.Internal(op, errors.New("a filing needs an actor"))
	}
	raw, err := json.Marshal(change.Payload)
	if err != nil {
		return Filing{}, dataport.Internal(op, err)
	}
	payload, err := jcs.Transform(raw)
	if err != nil {
		return Filing{}, dataport.Internal(op, err)
	}
	// Filings are text: what is not valid UTF-8 is replaced, as encoding/json would,
	// so that the entry, the tables and every engine agree.
	subjects := make([]string, len(change.Subjects))
	for i, s := range change.Subjects {
		subjects[i] = strings.ToValidUTF8(s, "\uFFFD")
	}
	actor.ParticipantID = strings.ToValidUTF8(actor.ParticipantID, "\uFFFD")
	actor.KeyID = strings.ToValidUTF8(actor.KeyID, "\uFFFD")

	// Take the next number. The filings of one write group (store's group commit)
	// are numbered in memory and written together at the group's end: one
	// sequence update and a few multi-row inserts for the whole group. The row lock
	// on filing_sequence, taken at the group's first filing, is held to commit, so
	// groups of several processes queue: numbers are gap-free, and commit order is
	// sequence order. Filing times never go backwards along the sequence, even when
	// the clocks of several replicas disagree a little.
	st, err := staged(tx)
	if err != nil {
		return Filing{}, dataport.Internal(op, err)
	}
	seq := st.last + 1
	at := store.FormatTime(tx.Now())
	if st.lastAt > at {
		at = st.lastAt
	}
	filedAt, err := store.ParseTime(at)
	if err != nil {
		return Filing{}, dataport.Internal(op, err)
	}

	leaf := canonicalEntry(seq, at, actor.ParticipantID, actor.KeyID, change.Type, subjects, payload)
	if len(leaf) > MaxEntryBytes {
		return Filing{}, dataport.Internal(op, fmt.Errorf("filing %s is %d bytes, over the %d-byte entry limit: file large documents as blobs", change.Type, len(leaf), MaxEntryBytes))
	}
	sum := sha256.Sum256(leaf)
	f := Filing{Seq: seq, FiledAt: filedAt, Actor: actor.ParticipantID, KeyID: actor.KeyID, Type: change.Type,
		Subjects: subjects, Payload: payload, Entry: leaf, SHA256: hex.EncodeToString(sum[:])}

	// If the caller's transaction rolls back, so does its filing and its number.
	last, lastAt, n := st.last, st.lastAt, len(st.filings)
	tx.OnRollback(func() { st.last, st.lastAt, st.filings = last, lastAt, st.filings[:n] })
	st.last, st.lastAt = seq, at
	st.filings = append(st.filings, f)
	tx.NoteFiling()
	return f, nil
}

type stageKey struct{}

// staged returns the write group's stage, taking the sequence's row lock at the
// group's first use.
func staged(tx *store.Tx) (*stage, error) {
	st := tx.GroupValue(stageKey{}, func() any { return &stage{} }).(*stage)
	if !st.loaded {
		if err := tx.QueryRowGroup(`UPDATE filing_sequence SET last_seq = last_seq WHERE id = 1
			RETURNING last_seq, last_filed_at`).Scan(&st.last, &st.lastAt); err != nil {
			return nil, err
		}
		st.loaded = true
		tx.AtGroupEnd(st.write)
	}
	return st, nil
}

// Next returns the number the next filing in tx will have. Records derived from a
// change (the catalog's search entries) carry it so that other processes can follow
// them in commit order: a number is handed out under the sequence's row lock, held
// to commit, so whatever carries a greater number commits later.
func Next(tx *store.Tx) (int64, error) {
	st, err := staged(tx)
	if err != nil {
		return 0, dataport.Internal("ledger.Next", err)
	}
	return st.last + 1, nil
}

// stage holds a write group's filings until the group's end.
type stage struct {
	loaded  bool
	last    int64  // the last number handed out
	lastAt  string // the time of the last filing
	filings []Filing
}

// write inserts the group's filings and moves the sequence to the last of them.
// The database checks both: a filing's number follows the greatest before it, and
// the sequence equals the greatest filed number (migration 0007).
func (st *stage) write(tx *store.Tx) error {
	if len(st.filings) == 0 {
		return nil // every filing of the group was rolled back
	}
	const per = 100 // rows per statement
	for start := 0; start < len(st.filings); start += per {
		batch := st.filings[start:min(start+per, len(st.filings))]
		var q strings.Builder
		q.WriteString(`INSERT INTO filings (seq, filed_at, actor, key_id, type, payload, entry, sha256) VALUES `)
		args := make([]any, 0, 8*len(batch))
		for i, f := range batch {
			if i > 0 {
				q.WriteString(", ")
			}
			fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", 8*i+1, 8*i+2, 8*i+3, 8*i+4, 8*i+5, 8*i+6, 8*i+7, 8*i+8)
			args = append(args, f.Seq, store.FormatTime(f.FiledAt), f.Actor, f.KeyID, f.Type, string(f.Payload), string(f.Entry), f.SHA256)
		}
		if _, err := tx.ExecGroup(q.String(), args...); err != nil {
			return fmt.Errorf("write filings: %w", err)
		}
		q.Reset()
		args = args[:0]
		k := 0
		for _, f := range batch {
			seen := map[string]bool{}
			for _, s := range f.Subjects {
				if s == "" || seen[s] {
					continue
				}
				seen[s] = true
				if k > 0 {
					q.WriteString(", ")
				}
				fmt.Fprintf(&q, "($%d, $%d)", 2*k+1, 2*k+2)
				args = append(args, s, f.Seq)
				k++
			}
		}
		if k > 0 {
			if _, err := tx.ExecGroup(`INSERT INTO filing_subjects (subject, seq) VALUES `+q.String(), args...); err != nil {
				return fmt.Errorf("write filing subjects: %w", err)
			}
		}
	}
	if _, err := tx.ExecGroup(`UPDATE filing_sequence SET last_seq = $1, last_filed_at = $2 WHERE id = 1`, st.last, st.lastAt); err != nil {
		return fmt.Errorf("move the filing sequence: %w", err)
	}
	return nil
}

// Filter selects filings.
type Filter struct {
	Subject string // only filings about this record
	Type    string // only filings of this type
	After   int64  // only filings with seq > After (paging)
	Limit   int    // at most this many; 100 when 0, 1000 at most
	// From and Until bound the filing time: From ≤ filed_at < Until; zero is no
	// bound. A period that is empty is bad input.
	From, Until time.Time
}

// List returns filings matching f in sequence order.
func List(tx *store.Tx, f Filter) ([]Filing, error) {
	const op = "ledger.List"
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
	rows, err := tx.Query(q, args...)
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	defer rows.Close()
	var out []Filing
	for rows.Next() {
		fl, err := scan(rows)
		if err != nil {
			return nil, dataport.Internal(op, err)
		}
		out = append(out, fl)
	}
	return out, dataport.Wrap(op, rows.Err())
}

// Get returns the filing numbered seq.
func Get(tx *store.Tx, seq int64) (Filing, error) {
	const op = "ledger.Get"
	fl, err := scan(tx.QueryRow(`SELECT seq, filed_at, actor, key_id, type, payload, entry, sha256
		FROM filings WHERE seq = $1`, seq))
	if errors.Is(err, sql.ErrNoRows) {
		return Filing{}, dataport.Errorf(op, dataport.KindNotFound, "no filing %d", seq)
	}
	if err != nil {
		return Filing{}, dataport.Internal(op, err)
	}
	return fl, nil
}

// Size returns the number of filings, which is also the last sequence number.
func Size(tx *store.Tx) (int64, error) {
	var n int64
	err := tx.QueryRow(`SELECT last_seq FROM filing_sequence WHERE id = 1`).Scan(&n)
	return n, dataport.Wrap("ledger.Size", err)
}

type scanner interface{ Scan(...any) error }

func scan(r scanner) (Filing, error) {
	var f Filing
	var at, payload, leaf string
	if err := r.Scan(&f.Seq, &at, &f.Actor, &f.KeyID, &f.Type, &payload, &leaf, &f.SHA256); err != nil {
		return Filing{}, err
	}
	t, err := store.ParseTime(at)
	if err != nil {
		return Filing{}, err
	}
	f.FiledAt, f.Payload, f.Entry = t, json.RawMessage(payload), []byte(leaf)
	var e entry
	if err := json.Unmarshal(f.Entry, &e); err != nil {
		return Filing{}, fmt.Errorf("filing %d: entry: %w", f.Seq, err)
	}
	f.Subjects = e.Subjects
	return f, nil
}

// canonicalEntry writes a filing's entry directly in RFC 8785 form: members in
// code-point order of their names (actor, filed_at, key_id, payload, seq, subjects,
// type), strings escaped as RFC 8785 §3.2.2.2 says, the payload already canonical.
// It saves a second canonicalisation pass on every filing; the storage conformance
// suite checks the result against the general canonicaliser.
func canonicalEntry(seq int64, filedAt, actor, keyID, typ string, subjects []string, payload []byte) []byte {
	b := make([]byte, 0, 128+len(payload))
	b = append(b, `{"actor":`...)
	b = appendJCSString(b, actor)
	b = append(b, `,"filed_at":`...)
	b = appendJCSString(b, filedAt)
	b = append(b, `,"key_id":`...)
	b = appendJCSString(b, keyID)
	b = append(b, `,"payload":`...)
	b = append(b, payload...)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, seq, 10) // < 2^53: the ES6 number form is the integer
	b = append(b, `,"subjects":[`...)
	for i, s := range subjects {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJCSString(b, s)
	}
	b = append(b, `],"type":`...)
	b = appendJCSString(b, typ)
	return append(b, '}')
}

// appendJCSString appends s as an RFC 8785 string: only the quote, the backslash and
// control characters are escaped, the usual ones by their short forms.
func appendJCSString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	s = strings.ToValidUTF8(s, "\uFFFD") // as encoding/json does; RFC 8785 needs valid UTF-8
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
