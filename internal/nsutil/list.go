//go:build linux

package nsutil

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/netctl/netctl/internal/docker"
)

// DockerDir is where the Docker Engine binds its containers' network namespaces (one
// file per sandbox, named by its id).
const DockerDir = "/var/run/docker/netns"

// Source says where List found a namespace.
type Source int

// Where List looks, in its order.
const (
	FromDocker    Source = iota // a running Docker container, by the Engine API
	FromNamed                   // a named namespace under NamedDir
	FromDockerDir               // a file under DockerDir
	FromProcess                 // the namespace of a process, /proc/PID/ns/net
)

// Entry is one network namespace List found: a path that opens it and what names it.
type Entry struct {
	Source Source
	Path   string // opens the namespace
	Name   string // Docker name, netns name or file name under DockerDir; "" for a process
	ID     string // the Docker container's ID (FromDocker)
	PID    int    // the process whose namespace it is (FromDocker, FromProcess)
}

// ListOptions choose what List looks at besides Docker, NamedDir and DockerDir.
type ListOptions struct {
	Processes bool // also the namespace of every process
	// Docker is the view of the engine's containers (nil: docker.DefaultView(), which
	// answers from memory while serve keeps it current, else asks the engine).
	Docker *docker.View
}

// List finds the network namespaces that can be named, best name first: running Docker
// containers whose namespace netctl may use (when the Engine answers within ctx), named
// namespaces, Docker's namespace files and, with Processes, every process's. It opens
// nothing, so one namespace may appear several times; callers keep the first of each
// (by Inode once opened). Hidden files are left out.
func List(ctx context.Context, opts ListOptions) []Entry {
	var out []Entry
	view := opts.Docker
	if view == nil {
		view = docker.DefaultView()
	}
	if list, err := view.Containers(ctx); err == nil {
		for _, c := range list {
			if c.CheckUsable() == nil {
				out = append(out, Entry{Source: FromDocker, Path: procNetns(c.State.Pid), Name: c.Name, ID: c.ID, PID: c.State.Pid})
			}
		}
	}
	out = append(out, listDir(NamedDir, FromNamed)...)
	out = append(out, listDir(DockerDir, FromDockerDir)...)
	if opts.Processes {
		out = append(out, ListProcesses()...)
	}
	return out
}

// ListProcesses lists the namespace of every process (List's last source).
func ListProcesses() []Entry {
	procs, _ := os.ReadDir("/proc")
	var out []Entry
	for _, p := range procs {
		if pid, err := strconv.Atoi(p.Name()); err == nil {
			out = append(out, Entry{Source: FromProcess, Path: procNetns(pid), PID: pid})
		}
	}
	return out
}

// listDir lists the namespace files of dir, hidden ones left out; a missing dir has none.
func listDir(dir string, src Source) []Entry {
	ents, _ := os.ReadDir(dir)
	var out []Entry
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		out = append(out, Entry{Source: src, Path: filepath.Join(dir, e.Name()), Name: e.Name()})
	}
	return out
}

func procNetns(pid int) string { return filepath.Join("/proc", strconv.Itoa(pid), "ns/net") }
