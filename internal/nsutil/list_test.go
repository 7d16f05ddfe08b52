//go:build linux

package nsutil

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestListDirSkipsHiddenAndMissing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, n := range []string{"b", ".tmp", "a"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want := []Entry{
		{Source: FromDockerDir, Path: filepath.Join(dir, "a"), Name: "a"},
		{Source: FromDockerDir, Path: filepath.Join(dir, "b"), Name: "b"},
	}
	if got := listDir(dir, FromDockerDir); !reflect.DeepEqual(got, want) {
		t.Errorf("listDir = %+v, want %+v", got, want)
	}
	if got := listDir(filepath.Join(dir, "missing"), FromNamed); got != nil {
		t.Errorf("listDir of a missing folder = %+v, want none", got)
	}
}
