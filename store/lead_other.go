//go:build !unix

package store

import (
	"context"
	"sync"
)

// Without flock(2), leadership on SQLite holds within one process only: run one
// dataport process per SQLite database there.
var fileLocks sync.Map // path → *sync.Mutex

func lockFile(path string) (*heldRole, error) {
	m, _ := fileLocks.LoadOrStore(path, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	if !mu.TryLock() {
		return nil, nil
	}
	return &heldRole{check: func(context.Context) error { return nil }, release: mu.Unlock}, nil
}
