//go:build unix

package store

import (
	"context"
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive flock(2) on path, without waiting; nil without an
// error means another open file holds it. flock locks belong to the open file, so
// two handles on one database in one process contend as two processes do, and the
// kernel drops the lock when the process dies.
func lockFile(path string) (*heldRole, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, err
	}
	return &heldRole{
		check:   func(context.Context) error { return nil }, // held while the file is open
		release: func() { f.Close() },
	}, nil
}
