package scorecard

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/dataport/dataport"
	"github.com/gowebpki/jcs"
)

// MaxModelBytes bounds what Load reads: a scorecard is a few hundred kilobytes at most.
const MaxModelBytes = 64 << 20

// contentID is the hex SHA-256 of the canonical JSON (RFC 8785) of a model object
// without its "id" member.
func contentID(raw []byte) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", err
	}
	delete(obj, "id")
	b, err := json.Marshal(obj)
	if err != nil {
		return "", err
	}
	canon, err := jcs.Transform(b)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}

// Seal fixes the model: it checks that the version and creation time are set,
// computes the id from the content and returns the artifact's JSON. Changing the
// model afterwards makes Load refuse it, so a new version is a new artifact.
func (m *Model) Seal() ([]byte, error) {
	const op = "scorecard.Seal"
	var p dataport.Problems
	if m.Version == "" {
		p.Add("version", "required: models are versioned")
	}
	if m.CreatedAt.IsZero() {
		p.Add("created_at", "required")
	}
	if err := p.Err(op); err != nil {
		return nil, err
	}
	m.ID = ""
	m.CreatedAt = m.CreatedAt.UTC()
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	id, err := contentID(raw)
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	m.ID = id
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	return append(out, '\n'), nil
}

// Load reads a sealed model and checks that its content matches its id.
func Load(r io.Reader) (*Model, error) {
	const op = "scorecard.Load"
	raw, err := io.ReadAll(io.LimitReader(r, MaxModelBytes+1))
	if err != nil {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "reading the model: %v", err)
	}
	if len(raw) > MaxModelBytes {
		return nil, dataport.Errorf(op, dataport.KindTooLarge, "the model is larger than %d bytes", MaxModelBytes)
	}
	var m Model
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "the model is not scorecard JSON: %v", err)
	}
	if m.Schema != Schema {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "the model's schema is %q, not %q", m.Schema, Schema)
	}
	if m.ID == "" {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "the model has no id: it was never sealed")
	}
	id, err := contentID(raw)
	if err != nil {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "the model is not canonicalisable JSON: %v", err)
	}
	if id != m.ID {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "the model's content does not match its id %s (it hashes to %s): it was changed after sealing", m.ID, id)
	}
	if err := m.check(); err != nil {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "%v", err)
	}
	m.buildLookups()
	return &m, nil
}

// check rejects a model that could not score: it guards against artifacts written
// by hand, since the id only proves the content is unchanged, not that it is sound.
func (m *Model) check() error {
	s := m.Scaling
	if !(s.PDO > 0) || !(s.BaseOdds > 0) {
		return fmt.Errorf("the scaling needs PDO and base odds above 0")
	}
	if len(m.Features) == 0 {
		return fmt.Errorf("the model has no characteristics")
	}
	for _, f := range m.Features {
		if len(f.Bins) == 0 || f.Unseen < 0 || f.Unseen >= len(f.Bins) {
			return fmt.Errorf("characteristic %q: no bins, or its unseen bin is out of range", f.Name)
		}
		var last *float64
		ranges := 0
		for i, b := range f.Bins {
			if math.IsNaN(b.Points) || math.IsInf(b.Points, 0) {
				return fmt.Errorf("characteristic %q, bin %d: points are not a number", f.Name, i)
			}
			if b.Kind != BinRange {
				continue
			}
			if (ranges == 0) != (b.Lo == nil) || (ranges > 0 && (last == nil || *b.Lo != *last)) {
				return fmt.Errorf("characteristic %q: the ranges do not join up at bin %d", f.Name, i)
			}
			last = b.Hi
			ranges++
		}
		if ranges > 0 && last != nil {
			return fmt.Errorf("characteristic %q: the last range is bounded above", f.Name)
		}
	}
	return nil
}

// Verify reports whether m still matches its id.
func (m *Model) Verify() error {
	raw, err := json.Marshal(m)
	if err != nil {
		return dataport.Internal("scorecard.Verify", err)
	}
	id, err := contentID(raw)
	if err != nil {
		return dataport.Internal("scorecard.Verify", err)
	}
	if m.ID == "" || id != m.ID {
		return dataport.Errorf("scorecard.Verify", dataport.KindInvalid, "the model's content does not match its id")
	}
	return nil
}
