//go:build unix

package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLocked is what Lock returns when another process holds the lock past the timeout.
var ErrLocked = errors.New("locked by another process")

// LockFile is an exclusive lock held on a file under a state root. Its file holds the
// holder's PID, and goes away when the lock is released, so that locks leave nothing
// behind; a lock whose holder died (SIGKILL) is free at once (flock), and its file goes
// when the next holder releases it, or with `netctl gc`.
type LockFile struct {
	f    *os.File
	path string
}

// LockedError is ErrLocked with the PID the lock file names (0 when it names none yet).
type LockedError struct{ PID int }

func (e *LockedError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("locked by process %d", e.PID)
	}
	return ErrLocked.Error()
}

// Is makes a *LockedError match ErrLocked.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Lock takes the exclusive lock at path, waiting up to timeout for another holder (0:
// trying once). When the wait ends it returns a *LockedError (errors.Is ErrLocked).
// Missing folders are created (0700).
//
// The file is removed by its holder before the lock is released, so a process that
// opened it meanwhile holds an unlinked file: after locking, Lock checks that its file
// is still the one at path, and tries again when it is not.
func Lock(path string, timeout time.Duration) (*LockFile, error) {
	deadline := time.Now().Add(timeout)
	for {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			if samePath(f, path) {
				l := &LockFile{f: f, path: path}
				l.writePID()
				return l, nil
			}
			f.Close() // released and removed by its last holder meanwhile: lock the new one
			continue
		}
		f.Close()
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !time.Now().Before(deadline) {
			return nil, &LockedError{PID: Holder(path)}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// samePath reports whether f is still the file at path.
func samePath(f *os.File, path string) bool {
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) != nil || unix.Stat(path, &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

func (l *LockFile) writePID() {
	_ = l.f.Truncate(0)
	_, _ = l.f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
}

// Holder returns the PID written in the lock file at path, or 0.
func Holder(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// Unlock removes the lock file and releases the lock. It is safe to call twice.
func (l *LockFile) Unlock() {
	if l == nil || l.f == nil {
		return
	}
	_ = os.Remove(l.path) // while still holding it: see Lock
	_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.f.Close()
	l.f = nil
}

// RemoveStaleLocks removes the lock files in dir that no process holds (their holder
// was killed) and returns their paths. A held lock is left alone.
func RemoveStaleLocks(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".lock") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if l, err := Lock(p, 0); err == nil {
			l.Unlock()
			out = append(out, p)
		}
	}
	return out
}
