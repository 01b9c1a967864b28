package ledger

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
)

// Witness cosignatures, C2SP tlog-cosignature (Ed25519, cosignature/v1). A witness
// that has checked a checkpoint is consistent with every one it saw before signs
// "cosignature/v1\ntime <t>\n" followed by the checkpoint body. The log accepts such
// signatures from the witnesses it is configured with and serves them on the
// checkpoint, so that clients requiring a quorum of witnesses cannot be shown a
// split view: a log showing two different trees would need the witnesses to sign
// both.

// Witness is a cosigner the log accepts, from its verifier key
// "name+keyid+base64(0x04 || Ed25519 public key)".
type Witness struct {
	Name  string
	KeyID [4]byte
	Key   ed25519.PublicKey
}

const cosignatureAlg = 0x04

// ParseWitnessKey parses a witness verifier key and checks its key id.
func ParseWitnessKey(vkey string) (Witness, error) {
	name, rest, ok1 := strings.Cut(strings.TrimSpace(vkey), "+")
	id, key64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || name == "" || strings.ContainsAny(name, " \t\n") {
		return Witness{}, fmt.Errorf("witness key %q: want name+keyid+key", vkey)
	}
	key, err := base64.StdEncoding.DecodeString(key64)
	if err != nil || len(key) != 1+ed25519.PublicKeySize || key[0] != cosignatureAlg {
		return Witness{}, fmt.Errorf("witness key %q: not an Ed25519 cosignature/v1 key (type 0x04)", name)
	}
	w := Witness{Name: name, Key: ed25519.PublicKey(key[1:])}
	w.KeyID = cosignerKeyID(name, w.Key)
	if hex.EncodeToString(w.KeyID[:]) != id {
		return Witness{}, fmt.Errorf("witness key %q: key id %s does not match the key (%x)", name, id, w.KeyID)
	}
	return w, nil
}

func cosignerKeyID(name string, key ed25519.PublicKey) [4]byte {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write([]byte{cosignatureAlg})
	h.Write(key)
	var id [4]byte
	copy(id[:], h.Sum(nil))
	return id
}

// WitnessKey renders a witness's verifier key.
func WitnessKey(name string, key ed25519.PublicKey) string {
	id := cosignerKeyID(name, key)
	return name + "+" + hex.EncodeToString(id[:]) + "+" + base64.StdEncoding.EncodeToString(append([]byte{cosignatureAlg}, key...))
}

func cosignedMessage(body string, timestamp uint64) []byte {
	return []byte("cosignature/v1\ntime " + strconv.FormatUint(timestamp, 10) + "\n" + body)
}

// Cosign signs a checkpoint body as a witness would; the log itself never does, but
// tests and tools that act as witnesses do.
func Cosign(name string, priv ed25519.PrivateKey, body string, at time.Time) string {
	ts := uint64(at.Unix())
	sig := ed25519.Sign(priv, cosignedMessage(body, ts))
	id := cosignerKeyID(name, priv.Public().(ed25519.PublicKey))
	blob := append(append(id[:], binary.BigEndian.AppendUint64(nil, ts)...), sig...)
	return "— " + name + " " + base64.StdEncoding.EncodeToString(blob) + "\n"
}

// Verify checks a signature line of a checkpoint body: it returns false (and no
// error) when the line is not this witness's, and an error when it claims to be but
// does not verify.
func (w Witness) Verify(body, line string) (bool, uint64, error) {
	rest, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "— ")
	if !ok {
		return false, 0, nil
	}
	name, sig64, ok := strings.Cut(rest, " ")
	if !ok || name != w.Name {
		return false, 0, nil
	}
	blob, err := base64.StdEncoding.DecodeString(sig64)
	if err != nil || len(blob) < 4 || [4]byte(blob[:4]) != w.KeyID {
		return false, 0, nil // another key of the same name
	}
	if len(blob) != 4+8+ed25519.SignatureSize {
		return true, 0, fmt.Errorf("cosignature by %s: %d bytes, want %d", w.Name, len(blob), 4+8+ed25519.SignatureSize)
	}
	ts := binary.BigEndian.Uint64(blob[4:12])
	if ts > 1<<63-1 {
		return true, 0, fmt.Errorf("cosignature by %s: timestamp out of range", w.Name)
	}
	if !ed25519.Verify(w.Key, cosignedMessage(body, ts), blob[12:]) {
		return true, 0, fmt.Errorf("cosignature by %s does not verify", w.Name)
	}
	return true, ts, nil
}

// CheckCosigned checks that a signed checkpoint carries a valid cosignature from
// each witness.
func CheckCosigned(signed []byte, witnesses []Witness) error {
	body, sigs, ok := strings.Cut(string(signed), "\n\n")
	if !ok {
		return errors.New("checkpoint: no signatures")
	}
	body += "\n"
	for _, w := range witnesses {
		found := false
		for _, line := range strings.SplitAfter(sigs, "\n") {
			mine, _, err := w.Verify(body, line)
			if err != nil {
				return err
			}
			if mine {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("checkpoint is not cosigned by witness %s", w.Name)
		}
	}
	return nil
}

// SetWitnesses configures the witnesses whose cosignatures the log accepts.
func (l *Log) SetWitnesses(ws []Witness) { l.mu.Lock(); l.witnesses = ws; l.mu.Unlock() }

// AddCosignatures takes a checkpoint as a witness returns it — the checkpoint body,
// an empty line, signature lines — verifies the lines of configured witnesses over a
// checkpoint this log signed, and stores them. It returns how many it stored.
func (l *Log) AddCosignatures(ctx context.Context, signed []byte) (int, error) {
	const op = "ledger.AddCosignatures"
	bad := func(format string, a ...any) (int, error) {
		return 0, dataport.Errorf(op, dataport.KindInvalid, format, a...)
	}
	body, sigs, ok := strings.Cut(string(signed), "\n\n")
	if !ok {
		return bad("want the checkpoint, an empty line and the signature lines")
	}
	body += "\n"
	cp, err := ParseCheckpoint(body)
	if err != nil {
		return bad("%v", err)
	}
	l.mu.Lock()
	ws := l.witnesses
	l.mu.Unlock()
	type cosig struct {
		w    Witness
		ts   uint64
		line string
	}
	var found []cosig
	for _, line := range strings.SplitAfter(sigs, "\n") {
		if line == "" {
			continue
		}
		for _, w := range ws {
			mine, ts, err := w.Verify(body, line)
			if err != nil {
				return bad("%v", err)
			}
			if mine {
				if !strings.HasSuffix(line, "\n") {
					line += "\n"
				}
				found = append(found, cosig{w, ts, line})
			}
		}
	}
	if len(found) == 0 {
		return bad("no valid cosignature from a witness this log is configured with")
	}
	n := 0
	err = l.db.WriteDerived(ctx, func(tx *store.Tx) error {
		var note string
		err := tx.QueryRow(`SELECT note FROM log_checkpoints WHERE size = $1`, cp.Size).Scan(&note)
		if errors.Is(err, errNoRows) {
			return dataport.Errorf(op, dataport.KindNotFound, "this log signed no checkpoint of size %d", cp.Size)
		}
		if err != nil {
			return err
		}
		if ours, _, _ := strings.Cut(note, "\n\n"); ours+"\n" != body {
			// A witness cosigned a tree this log never signed: a split view, or a
			// forgery. Either way, refuse and let the operator know.
			l.log.Error("a witness cosigned a checkpoint this log did not sign", "size", cp.Size)
			return dataport.Errorf(op, dataport.KindConflict, "the checkpoint of size %d differs from the one this log signed", cp.Size)
		}
		for _, c := range found {
			res, err := tx.Exec(`INSERT INTO log_cosignatures (size, witness, signed_at, line) VALUES ($1, $2, $3, $4)
				ON CONFLICT (size, witness) DO NOTHING`, cp.Size, c.w.Name, int64(c.ts), c.line)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k > 0 {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, dataport.Wrap(op, err)
	}
	return n, nil
}

// CosignedCheckpoint returns the latest checkpoint with the witness cosignatures it
// has, as /log/checkpoint serves it.
func (l *Log) CosignedCheckpoint(ctx context.Context) ([]byte, error) {
	cp, ok := l.Latest()
	if !ok {
		return nil, dataport.Errorf("ledger.CosignedCheckpoint", dataport.KindNotFound, "the log has no checkpoint yet")
	}
	out := append([]byte(nil), cp.Note...)
	err := l.db.Read(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(`SELECT line FROM log_cosignatures WHERE size = $1 ORDER BY witness`, cp.Size)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			out = append(out, line...)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, dataport.Wrap("ledger.CosignedCheckpoint", err)
	}
	return out, nil
}
