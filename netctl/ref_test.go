//go:build linux

package netctl

import "testing"

func TestParseRef(t *testing.T) {
	named := func(s string) bool { return s == "lab-c1" }
	for _, tc := range []struct {
		in      string
		want    Ref
		wantErr bool
	}{
		{"docker:web", Ref{RefDocker, "web"}, false},
		{"docker:3f2a", Ref{RefDocker, "3f2a"}, false},
		{"netns:lab-c1", Ref{RefNetns, "lab-c1"}, false},
		{"pid:1234", Ref{RefPID, "1234"}, false},
		{"/proc/1234/ns/net", Ref{RefPath, "/proc/1234/ns/net"}, false},
		{"/var/run/docker/netns/abc", Ref{RefPath, "/var/run/docker/netns/abc"}, false},
		{"lab-c1", Ref{RefNetns, "lab-c1"}, false}, // bare word naming a netns
		{"web", Ref{RefDocker, "web"}, false},      // bare word otherwise: Docker
		{"", Ref{}, true},
		{"pid:abc", Ref{}, true},
		{"pid:0", Ref{}, true},
		{"pid:-3", Ref{}, true},
		{"netns:a/b", Ref{}, true},
		{"netns:", Ref{}, true},
		{"k8s:web", Ref{}, true},
	} {
		got, err := ParseRef(tc.in, named)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseRef(%q) = %v, %v; want %v, err=%v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}
