package ledger

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
	"golang.org/x/mod/sumdb/tlog"
)

// TilePath names a C2SP tlog-tiles resource: a Merkle tile at level L (0–63), or an
// entry bundle; N is its index, W its width (256 for a full tile).
type TilePath struct {
	Entries bool
	L       int
	N       int64
	W       int
}

// Full reports whether the tile has all 256 hashes (or entries).
func (t TilePath) Full() bool { return t.W == 1<<TileHeight }

// String renders the path as C2SP tlog-tiles spells it, without the prefix:
// tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>], N in 3-digit groups, all but the
// last prefixed with x (1234067 → x001/x234/067).
func (t TilePath) String() string {
	level := strconv.Itoa(t.L)
	if t.Entries {
		level = "entries"
	}
	s := "tile/" + level + "/" + encodeIndex(t.N)
	if !t.Full() {
		s += ".p/" + strconv.Itoa(t.W)
	}
	return s
}

func encodeIndex(n int64) string {
	groups := []string{fmt.Sprintf("%03d", n%1000)}
	for n >= 1000 {
		n /= 1000
		groups = append([]string{fmt.Sprintf("x%03d", n%1000)}, groups...)
	}
	return strings.Join(groups, "/")
}

// ParseTilePath parses a tile path strictly: any spelling other than the canonical one
// (leading zeros, a missing x, an extra group, a width of 0 or 256) is refused, so
// each resource has exactly one name.
func ParseTilePath(p string) (TilePath, error) {
	bad := func(why string) (TilePath, error) { return TilePath{}, fmt.Errorf("tile path %q: %s", p, why) }
	rest, ok := strings.CutPrefix(p, "tile/")
	if !ok {
		return bad("does not start with tile/")
	}
	level, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return bad("no index")
	}
	var t TilePath
	if level == "entries" {
		t.Entries = true
	} else {
		l, err := strconv.Atoi(level)
		if err != nil || l < 0 || l > 63 || strconv.Itoa(l) != level {
			return bad("the level is a decimal from 0 to 63 without leading zeros")
		}
		t.L = l
	}
	index, width, partial := strings.Cut(rest, ".p/")
	t.W = 1 << TileHeight
	if partial {
		w, err := strconv.Atoi(width)
		if err != nil || w < 1 || w > 255 || strconv.Itoa(w) != width {
			return bad("a partial width is a decimal from 1 to 255 without leading zeros")
		}
		t.W = w
	}
	groups := strings.Split(index, "/")
	if len(groups) > 7 { // 7 groups of 3 digits exceed 2^63 already
		return bad("the index is too large")
	}
	var n int64
	for i, g := range groups {
		last := i == len(groups)-1
		if !last {
			if !strings.HasPrefix(g, "x") {
				return bad("every index group but the last starts with x")
			}
			g = g[1:]
		}
		if len(g) != 3 || strings.Trim(g, "0123456789") != "" {
			return bad("index groups have exactly 3 digits")
		}
		d, _ := strconv.ParseInt(g, 10, 64)
		if n > (1<<63-1-d)/1000 {
			return bad("the index is too large")
		}
		n = n*1000 + d
	}
	t.N = n
	if encodeIndex(n) != index {
		return bad("the index has leading zero groups")
	}
	return t, nil
}

// tileEnd returns the number of leaves a tile needs: (N·256 + W)·256^L.
func (t TilePath) leavesNeeded() (int64, bool) {
	span := int64(1)
	for i := 0; i < t.L; i++ {
		if span > (1<<62)>>TileHeight {
			return 0, false
		}
		span <<= TileHeight
	}
	units := t.N
	if units > (1<<62)>>TileHeight {
		return 0, false
	}
	units = units<<TileHeight + int64(t.W)
	if span > 0 && units > (1<<62)/span {
		return 0, false
	}
	return units * span, true
}

// ReadTile returns the bytes of a tile or entry bundle that the latest signed
// checkpoint covers. A tile the tree does not reach yet is KindNotFound.
func (l *Log) ReadTile(ctx context.Context, t TilePath) ([]byte, error) {
	const op = "ledger.ReadTile"
	cp, ok := l.Latest()
	need, fits := t.leavesNeeded()
	if !ok || !fits || need > cp.Size {
		return nil, dataport.Errorf(op, dataport.KindNotFound, "%s is beyond the signed tree", t)
	}
	// Full tiles and bundles never change: serve them from memory once read.
	if t.Full() {
		if b, ok := l.tiles.get(t); ok {
			return b, nil
		}
	}
	var data []byte
	err := l.db.Read(ctx, func(tx *store.Tx) error {
		if t.Entries {
			first := t.N<<TileHeight + 1
			rows, err := tx.Query(`SELECT seq, entry FROM filings WHERE seq >= $1 AND seq < $2 ORDER BY seq`, first, first+int64(t.W))
			if err != nil {
				return err
			}
			defer rows.Close()
			want := first
			for rows.Next() {
				var seq int64
				var entry string
				if err := rows.Scan(&seq, &entry); err != nil {
					return err
				}
				if seq != want {
					return fmt.Errorf("entry bundle %s: filing %d missing", t, want)
				}
				want++
				// C2SP tlog-tiles: entries are big-endian uint16 length-prefixed.
				data = binary.BigEndian.AppendUint16(data, uint16(len(entry)))
				data = append(data, entry...)
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if want != first+int64(t.W) {
				return fmt.Errorf("entry bundle %s: only %d entries", t, want-first)
			}
			return nil
		}
		var err error
		data, err = tlog.ReadTileData(tlog.Tile{H: TileHeight, L: t.L, N: t.N, W: t.W}, &txHashReader{tx: tx, cache: &l.hashes})
		return err
	})
	if err != nil {
		return nil, dataport.Wrap(op, err)
	}
	if t.Full() {
		l.tiles.add(t, data)
	}
	return data, nil
}

// tileCache keeps full tiles and entry bundles, which are immutable, bounded by
// bytes; when full it starts afresh, which only costs re-reads.
type tileCache struct {
	mu    sync.RWMutex
	m     map[TilePath][]byte
	bytes int
	max   int
}

func (c *tileCache) get(t TilePath) ([]byte, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	b, ok := c.m[t]
	return b, ok
}

func (c *tileCache) add(t TilePath, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || c.bytes+len(b) > c.max {
		c.m, c.bytes = map[TilePath][]byte{}, 0
	}
	c.m[t] = b
	c.bytes += len(b)
}

// InclusionProof proves that filing seq is in the tree of the given size.
func (l *Log) InclusionProof(ctx context.Context, seq, size int64) ([][]byte, error) {
	const op = "ledger.InclusionProof"
	if seq < 1 || seq > size {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "filing %d is not in a tree of size %d", seq, size)
	}
	var proof tlog.RecordProof
	err := l.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		proof, err = tlog.ProveRecord(size, seq-1, &txHashReader{tx: tx, cache: &l.hashes})
		return err
	})
	if err != nil {
		return nil, dataport.Wrap(op, err)
	}
	return hashList(proof), nil
}

// ConsistencyProof proves that the tree of size2 extends the tree of size1.
func (l *Log) ConsistencyProof(ctx context.Context, size1, size2 int64) ([][]byte, error) {
	const op = "ledger.ConsistencyProof"
	cp, _ := l.Latest()
	if size1 < 1 || size2 < size1 || size2 > cp.Size {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "sizes must satisfy 1 ≤ from ≤ to ≤ %d", cp.Size)
	}
	var proof tlog.TreeProof
	err := l.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		proof, err = tlog.ProveTree(size2, size1, &txHashReader{tx: tx, cache: &l.hashes})
		return err
	})
	if err != nil {
		return nil, dataport.Wrap(op, err)
	}
	return hashList(proof), nil
}

func hashList[H ~[]tlog.Hash](p H) [][]byte {
	out := make([][]byte, len(p))
	for i := range p {
		h := p[i]
		out[i] = h[:]
	}
	return out
}

// ProofBundle renders a C2SP tlog-proof for a filing against a checkpoint that covers
// it. The bundle's extra data is the filing's entry itself, so the bundle alone
// proves the filing: a verifier hashes the extra data into the leaf and needs nothing
// else (the extra data is never trusted as such — only its hash, checked by the proof).
func (l *Log) ProofBundle(ctx context.Context, f Filing, cp Checkpoint) (string, error) {
	proof, err := l.InclusionProof(ctx, f.Seq, cp.Size)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("c2sp.org/tlog-proof@v1\n")
	b.WriteString("extra " + base64.StdEncoding.EncodeToString(f.Entry) + "\n")
	fmt.Fprintf(&b, "index %d\n", f.Seq-1)
	for _, h := range proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	b.WriteString("\n")
	b.Write(cp.Note)
	return b.String(), nil
}
