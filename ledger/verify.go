package ledger

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Verification of a C2SP tlog-tiles log from outside: dataport's own, or any other
// implementation's. It trusts nothing but the verifier key: the checkpoint must be
// signed by it, every tile must hash into the checkpoint's root, every entry into its
// leaf, an earlier checkpoint must be a prefix of this one, and a proof bundle must
// lead from its entry to a signed root.

// Source fetches a log's resources by path relative to its prefix ("checkpoint",
// "tile/0/000", …).
type Source interface {
	Fetch(ctx context.Context, path string) ([]byte, error)
}

// HTTPSource fetches from a log's URL prefix, e.g. https://exchange.example/log.
type HTTPSource struct {
	Prefix string
	Client *http.Client
}

// Fetch GETs prefix/path.
func (s HTTPSource) Fetch(ctx context.Context, path string) ([]byte, error) {
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	u := strings.TrimSuffix(s.Prefix, "/") + "/" + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
		return nil, fmt.Errorf("GET %s: %s", u, res.Status)
	}
	// A tile is 8 KiB; an entry bundle at most 256 entries of 64 KiB.
	return io.ReadAll(io.LimitReader(res.Body, 256*(2+65535)+1))
}

// DirSource reads a log laid out as files, as tile-based logs are often written
// (e.g. Tessera's POSIX storage): dir/checkpoint, dir/tile/0/000, …
type DirSource string

// Fetch reads dir/path; gzip-compressed files are accepted as they are stored by some
// writers.
func (d DirSource) Fetch(ctx context.Context, path string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(string(d), filepath.FromSlash(path)))
	if err != nil {
		return nil, err
	}
	if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	}
	return b, nil
}

// VerifyOptions says what to check besides the checkpoint and the tiles.
type VerifyOptions struct {
	Key     string // the log's verifier key (note vkey); required
	Entries bool   // also check every entry against its leaf hash
	Since   []byte // an earlier signed checkpoint this one must extend
	// Witnesses must each have cosigned the checkpoint (C2SP tlog-cosignature).
	Witnesses []Witness
	// Progress, when set, receives a line per step.
	Progress func(format string, args ...any)
}

// Report says what was verified.
type Report struct {
	Checkpoint Checkpoint
	Tiles      int
	Entries    int
	Since      *Checkpoint
}

// OpenCheckpoint verifies a signed checkpoint with a verifier key and parses it. The
// checkpoint's origin must be the key's name, as C2SP tlog-checkpoint logs name their
// keys.
func OpenCheckpoint(signed []byte, vkey string) (Checkpoint, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("verifier key: %v", err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		var unknown *note.UnverifiedNoteError
		if errors.As(err, &unknown) {
			return Checkpoint{}, fmt.Errorf("checkpoint is not signed by %s (key %08x)", v.Name(), v.KeyHash())
		}
		return Checkpoint{}, fmt.Errorf("checkpoint signature: %v", err)
	}
	cp, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if cp.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("checkpoint origin %q is not the key's name %q", cp.Origin, v.Name())
	}
	cp.Note = signed
	return cp, nil
}

// tileSource reads stored hashes out of a log's tiles for tlog, fetching each tile
// once, at the width the checkpoint's size gives it.
type tileSource struct {
	ctx   context.Context
	src   Source
	size  int64
	tiles map[TilePath][]byte
	err   error
}

// servedTile is the tile at level l, index n, as a log of the given size serves it.
func servedTile(size int64, l int, n int64) TilePath {
	full := size >> (TileHeight * (l + 1))
	if n < full {
		return TilePath{L: l, N: n, W: 1 << TileHeight}
	}
	return TilePath{L: l, N: n, W: int((size >> (TileHeight * l)) & 0xff)}
}

func (s *tileSource) tile(t TilePath) ([]byte, error) {
	if b, ok := s.tiles[t]; ok {
		return b, nil
	}
	b, err := s.src.Fetch(s.ctx, t.String())
	if err != nil {
		return nil, fmt.Errorf("%s: %v", t, err)
	}
	if len(b) != t.W*HashSize {
		return nil, fmt.Errorf("%s: %d bytes, want %d", t, len(b), t.W*HashSize)
	}
	s.tiles[t] = b
	return b, nil
}

func (s *tileSource) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		need := tlog.TileForIndex(TileHeight, idx)
		served := servedTile(s.size, need.L, need.N)
		if served.W < need.W {
			return nil, fmt.Errorf("hash %d lies beyond the tree of size %d", idx, s.size)
		}
		data, err := s.tile(served)
		if err != nil {
			return nil, err
		}
		h, err := tlog.HashFromTile(need, data[:need.W*HashSize], idx)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

// subtreeHash hashes a full tile's 256 hashes up to the one hash of its subtree.
func subtreeHash(data []byte) []byte {
	level := make([][]byte, 0, 1<<TileHeight)
	for i := 0; i < len(data); i += HashSize {
		level = append(level, data[i:i+HashSize])
	}
	for len(level) > 1 {
		next := level[:0:0]
		for i := 0; i < len(level); i += 2 {
			next = append(next, nodeHash(level[i], level[i+1]))
		}
		level = next
	}
	return level[0]
}

// VerifyLog checks a whole log: the checkpoint's signature; that the tiles rebuild
// the checkpoint's root; that every full tile hashes to its entry in the tile above;
// with Entries, that every entry hashes to its leaf; with Since, that the earlier
// checkpoint is a prefix of this one. The first failure is returned, naming the tile
// or entry.
func VerifyLog(ctx context.Context, src Source, opts VerifyOptions) (Report, error) {
	say := opts.Progress
	if say == nil {
		say = func(string, ...any) {}
	}
	var rep Report
	signed, err := src.Fetch(ctx, "checkpoint")
	if err != nil {
		return rep, fmt.Errorf("checkpoint: %v", err)
	}
	cp, err := OpenCheckpoint(signed, opts.Key)
	if err != nil {
		return rep, err
	}
	rep.Checkpoint = cp
	say("checkpoint: %s, size %d, root %s: signature verified", cp.Origin, cp.Size, base64.StdEncoding.EncodeToString(cp.Root[:]))
	if len(opts.Witnesses) > 0 {
		if err := CheckCosigned(signed, opts.Witnesses); err != nil {
			return rep, err
		}
		say("checkpoint: cosigned by all %d witnesses", len(opts.Witnesses))
	}
	if cp.Size == 0 {
		return rep, nil
	}
	ts := &tileSource{ctx: ctx, src: src, size: cp.Size, tiles: map[TilePath][]byte{}}

	// 1. The tiles along the right edge rebuild the signed root.
	root, err := tlog.TreeHash(cp.Size, ts)
	if err != nil {
		return rep, fmt.Errorf("rebuilding the root from the tiles: %v", err)
	}
	if root != cp.Root {
		return rep, fmt.Errorf("the tiles give root %s, but the checkpoint signs %s",
			base64.StdEncoding.EncodeToString(root[:]), base64.StdEncoding.EncodeToString(cp.Root[:]))
	}

	// 2. Every other tile hashes into its parent, top down, so that a mismatch
	// names the first tile that does not belong to the signed tree.
	levels := 0
	for l := 0; cp.Size>>(TileHeight*l) > 0; l++ {
		levels = l + 1
	}
	for l := levels - 2; l >= 0; l-- {
		full := cp.Size >> (TileHeight * (l + 1))
		for n := int64(0); n < full; n++ {
			t := TilePath{L: l, N: n, W: 1 << TileHeight}
			data, err := ts.tile(t)
			if err != nil {
				return rep, err
			}
			parent := servedTile(cp.Size, l+1, n>>TileHeight)
			pdata, err := ts.tile(parent)
			if err != nil {
				return rep, err
			}
			at := int(n & 0xff)
			if got, want := subtreeHash(data), pdata[at*HashSize:(at+1)*HashSize]; !bytes.Equal(got, want) {
				return rep, fmt.Errorf("%s hashes to %s, but %s holds %s at position %d: %s is not part of the signed tree",
					t, base64.StdEncoding.EncodeToString(got), parent, base64.StdEncoding.EncodeToString(want), at, t)
			}
			if l == 0 {
				delete(ts.tiles, t) // level 0 is the bulk; keep memory flat
			}
		}
		// Partial tiles were checked by the root: each lies on the right edge.
	}
	rep.Tiles = countTiles(cp.Size)
	say("tiles: %d tiles on %d levels hash into the signed root", rep.Tiles, levels)

	// 3. Entries against leaves.
	if opts.Entries {
		bundles := (cp.Size + (1 << TileHeight) - 1) >> TileHeight
		for n := int64(0); n < bundles; n++ {
			t := servedTile(cp.Size, 0, n)
			leaves, err := ts.tile(t)
			if err != nil {
				return rep, err
			}
			et := TilePath{Entries: true, N: n, W: t.W}
			data, err := src.Fetch(ctx, et.String())
			if err != nil {
				return rep, fmt.Errorf("%s: %v", et, err)
			}
			for i := 0; i < t.W; i++ {
				index := n<<TileHeight + int64(i)
				if len(data) < 2 {
					return rep, fmt.Errorf("%s ends after %d of %d entries", et, i, t.W)
				}
				size := int(binary.BigEndian.Uint16(data))
				if len(data) < 2+size {
					return rep, fmt.Errorf("%s: entry %d is cut short", et, index)
				}
				entry := data[2 : 2+size]
				data = data[2+size:]
				if got, want := LeafHash(entry), leaves[i*HashSize:(i+1)*HashSize]; !bytes.Equal(got, want) {
					return rep, fmt.Errorf("entry %d (%s, position %d) hashes to %s, but its leaf in %s is %s: the entry was altered",
						index, et, i, base64.StdEncoding.EncodeToString(got), t, base64.StdEncoding.EncodeToString(want))
				}
				rep.Entries++
			}
			if len(data) != 0 {
				return rep, fmt.Errorf("%s has %d bytes after its %d entries", et, len(data), t.W)
			}
			delete(ts.tiles, t)
		}
		say("entries: all %d entries hash to their leaves", rep.Entries)
	}

	// 4. An earlier checkpoint is a prefix of this one.
	if opts.Since != nil {
		old, err := OpenCheckpoint(opts.Since, opts.Key)
		if err != nil {
			return rep, fmt.Errorf("earlier checkpoint: %v", err)
		}
		if old.Size > cp.Size {
			return rep, fmt.Errorf("the log shrank: the earlier checkpoint has size %d, this one %d", old.Size, cp.Size)
		}
		if old.Size > 0 {
			h, err := tlog.TreeHash(old.Size, ts)
			if err != nil {
				return rep, fmt.Errorf("earlier checkpoint: %v", err)
			}
			if h != old.Root {
				return rep, fmt.Errorf("not consistent: the first %d entries of this log have root %s, but the earlier checkpoint signed %s",
					old.Size, base64.StdEncoding.EncodeToString(h[:]), base64.StdEncoding.EncodeToString(old.Root[:]))
			}
		}
		rep.Since = &old
		say("consistent with the earlier checkpoint of size %d", old.Size)
	}
	return rep, nil
}

func countTiles(size int64) int {
	n := 0
	for l := 0; size>>(TileHeight*l) > 0; l++ {
		full := size >> (TileHeight * (l + 1))
		n += int(full)
		if (size>>(TileHeight*l))&0xff != 0 {
			n++
		}
	}
	return n
}

// ProofBundle is a parsed C2SP tlog-proof.
type ProofBundle struct {
	Extra      []byte // dataport puts the entry here
	Index      int64
	Proof      [][]byte
	Checkpoint []byte // the signed note
}

// ParseProofBundle parses a C2SP tlog-proof strictly.
func ParseProofBundle(text []byte) (ProofBundle, error) {
	var b ProofBundle
	head, checkpoint, ok := bytes.Cut(text, []byte("\n\n"))
	if !ok {
		return b, errors.New("tlog-proof: no empty line before the checkpoint")
	}
	b.Checkpoint = checkpoint
	lines := strings.Split(string(head), "\n")
	if lines[0] != "c2sp.org/tlog-proof@v1" {
		return b, fmt.Errorf("tlog-proof: first line %q is not c2sp.org/tlog-proof@v1", lines[0])
	}
	lines = lines[1:]
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		extra, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[0], "extra "))
		if err != nil {
			return b, errors.New("tlog-proof: extra data is not base64")
		}
		b.Extra, lines = extra, lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return b, errors.New("tlog-proof: no index line")
	}
	idx := strings.TrimPrefix(lines[0], "index ")
	n, err := strconv.ParseInt(idx, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != idx {
		return b, fmt.Errorf("tlog-proof: index %q is not a decimal without leading zeros", idx)
	}
	b.Index = n
	for _, l := range lines[1:] {
		h, err := base64.StdEncoding.DecodeString(l)
		if err != nil || len(h) != HashSize {
			return b, fmt.Errorf("tlog-proof: proof line %q is not a base64 SHA-256 hash", l)
		}
		b.Proof = append(b.Proof, h)
	}
	if len(b.Proof) > 63 {
		return b, errors.New("tlog-proof: more proof hashes than any tree needs")
	}
	return b, nil
}

// VerifyProofBundle checks a tlog-proof with no network: its checkpoint is signed by
// the key, and its entry (the extra data, or entry when given) is leaf Index of the
// checkpointed tree.
func VerifyProofBundle(text []byte, vkey string, entry []byte) (ProofBundle, Checkpoint, error) {
	b, err := ParseProofBundle(text)
	if err != nil {
		return b, Checkpoint{}, err
	}
	cp, err := OpenCheckpoint(b.Checkpoint, vkey)
	if err != nil {
		return b, cp, err
	}
	if entry == nil {
		entry = b.Extra
	}
	if entry == nil {
		return b, cp, errors.New("tlog-proof: no entry to check: the bundle has no extra data and none was given")
	}
	if err := CheckInclusion(b.Proof, b.Index, cp.Size, LeafHash(entry), cp.Root[:]); err != nil {
		return b, cp, fmt.Errorf("entry %d is not proven included in the checkpoint of size %d: %v", b.Index, cp.Size, err)
	}
	return b, cp, nil
}
