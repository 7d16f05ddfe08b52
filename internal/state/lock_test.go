//go:build unix

package state

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLockExclusiveAndRemoved(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "lock", "1.lock")
	l, err := Lock(p, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if Holder(p) != os.Getpid() {
		t.Errorf("lock file names pid %d, want %d", Holder(p), os.Getpid())
	}
	_, err = Lock(p, 50*time.Millisecond)
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) || le.PID != os.Getpid() {
		t.Fatalf("second Lock: %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
	l.Unlock()
	l.Unlock() // twice is harmless
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lock file left after Unlock: %v", err)
	}
	l2, err := Lock(p, 0)
	if err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	l2.Unlock()
}

// Holders that remove the file on release never let two lockers in at once.
func TestLockMutualExclusionUnderChurn(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "x.lock")
	var inside atomic.Bool
	var bad atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				l, err := Lock(p, 10*time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				if inside.Swap(true) {
					bad.Add(1)
				}
				time.Sleep(50 * time.Microsecond)
				inside.Store(false)
				l.Unlock()
			}
		})
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d times two holders at once", bad.Load())
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lock file left: %v", err)
	}
}

func TestRemoveStaleLocks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stale, held := filepath.Join(dir, "1.lock"), filepath.Join(dir, "2.lock")
	if err := os.WriteFile(stale, []byte("999999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Lock(held, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if got := RemoveStaleLocks(dir); !slices.Equal(got, []string{stale}) {
		t.Errorf("removed %v, want [%s]", got, stale)
	}
	if _, err := os.Stat(held); err != nil {
		t.Errorf("held lock removed: %v", err)
	}
}
