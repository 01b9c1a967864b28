package ledger

import (
	"bytes"
	"crypto/sha256"
	"fmt"
)

// The proof checks below follow RFC 9162 (Certificate Transparency 2.0), sections
// 2.1.3.2 (inclusion) and 2.1.4.2 (consistency), over RFC 6962 hashing: a leaf hash is
// SHA-256(0x00 || entry), an interior node SHA-256(0x01 || left || right). They are
// what `dataport verify` and the API's proof bundles rely on, so they are written out
// here rather than hidden behind a library, and tested against another
// implementation's vectors, broken ones included.

// HashSize is the size of every hash in the log.
const HashSize = sha256.Size

// LeafHash returns the RFC 6962 hash of a log entry.
func LeafHash(entry []byte) []byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(entry)
	return h.Sum(nil)
}

func nodeHash(left, right []byte) []byte {
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(left)
	h.Write(right)
	return h.Sum(nil)
}

func checkSizes(what string, hashes ...[]byte) error {
	for i, h := range hashes {
		if len(h) != HashSize {
			return fmt.Errorf("%s %d is %d bytes, not %d", what, i, len(h), HashSize)
		}
	}
	return nil
}

// CheckInclusion verifies that the leaf hash is the index-th leaf (0-based) of the
// tree of the given size and root.
func CheckInclusion(proof [][]byte, index, size int64, leaf, root []byte) error {
	if index < 0 || size <= 0 || index >= size {
		return fmt.Errorf("inclusion: index %d is not in a tree of size %d", index, size)
	}
	if err := checkSizes("leaf hash", leaf); err != nil {
		return fmt.Errorf("inclusion: %w", err)
	}
	if err := checkSizes("root hash", root); err != nil {
		return fmt.Errorf("inclusion: %w", err)
	}
	if err := checkSizes("proof hash", proof...); err != nil {
		return fmt.Errorf("inclusion: %w", err)
	}
	fn, sn := index, size-1
	r := leaf
	for i, p := range proof {
		if sn == 0 {
			return fmt.Errorf("inclusion: proof has %d hashes, more than the tree needs (%d)", len(proof), i)
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(p, r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return fmt.Errorf("inclusion: proof has %d hashes, fewer than the tree needs", len(proof))
	}
	if !bytes.Equal(r, root) {
		return fmt.Errorf("inclusion: the proof leads to root %x, not %x", r, root)
	}
	return nil
}

// CheckConsistency verifies that the tree of size2 and root2 extends the tree of
// size1 and root1: the log only appended.
func CheckConsistency(proof [][]byte, size1, size2 int64, root1, root2 []byte) error {
	if err := checkSizes("proof hash", proof...); err != nil {
		return fmt.Errorf("consistency: %w", err)
	}
	switch {
	case size1 <= 0:
		// Every tree extends the empty tree: such a "proof" proves nothing, and
		// callers asking for one have a bug (RFC 9162 requires 0 < first).
		return fmt.Errorf("consistency: the old size must be at least 1, not %d", size1)
	case size2 < size1:
		return fmt.Errorf("consistency: size %d cannot grow into size %d", size1, size2)
	case size1 == size2:
		if len(proof) > 0 {
			return fmt.Errorf("consistency: equal sizes need an empty proof, not %d hashes", len(proof))
		}
		if !bytes.Equal(root1, root2) {
			return fmt.Errorf("consistency: two roots for size %d: %x and %x", size1, root1, root2)
		}
		return nil
	case len(proof) == 0:
		return fmt.Errorf("consistency: empty proof from size %d to %d", size1, size2)
	}
	if err := checkSizes("root hash", root1, root2); err != nil {
		return fmt.Errorf("consistency: %w", err)
	}
	path := proof
	if size1&(size1-1) == 0 { // a power of two: the old root is a node of the new tree
		path = append([][]byte{root1}, proof...)
	}
	fn, sn := size1-1, size2-1
	for fn&1 == 1 {
		fn >>= 1
		sn >>= 1
	}
	fr, sr := path[0], path[0]
	for i, c := range path[1:] {
		if sn == 0 {
			return fmt.Errorf("consistency: proof has %d hashes, more than needed (%d)", len(proof), i+1)
		}
		if fn&1 == 1 || fn == sn {
			fr = nodeHash(c, fr)
			sr = nodeHash(c, sr)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			sr = nodeHash(sr, c)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return fmt.Errorf("consistency: proof has %d hashes, fewer than needed", len(proof))
	}
	if !bytes.Equal(fr, root1) {
		return fmt.Errorf("consistency: the proof does not lead to the old root %x (got %x)", root1, fr)
	}
	if !bytes.Equal(sr, root2) {
		return fmt.Errorf("consistency: the proof does not lead to the new root %x (got %x)", root2, sr)
	}
	return nil
}
