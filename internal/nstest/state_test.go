//go:build linux

package nstest

import "testing"

func TestWithoutOperState(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"docker0          UNKNOWN        8e:2e:be:1e:f7:73 <BROADCAST,MULTICAST,UP,LOWER_UP> \n",
			"docker0 8e:2e:be:1e:f7:73 <BROADCAST,MULTICAST,UP,LOWER_UP> \n"},
		{"veth-c1@if2      UP             f6:f5:d1:d4:59:06 <BROADCAST,MULTICAST,UP,LOWER_UP> \n",
			"veth-c1@if2 f6:f5:d1:d4:59:06 <BROADCAST,MULTICAST,UP,LOWER_UP> \n"},
		{"2: docker0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default \\    link/ether 8e:2e:be:1e:f7:73\n",
			"2: docker0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue mode DEFAULT group default \\    link/ether 8e:2e:be:1e:f7:73\n"},
		// Addresses and routes are left alone.
		{"2: eth0    inet 172.17.0.2/16 brd 172.17.255.255 scope global eth0\n",
			"2: eth0    inet 172.17.0.2/16 brd 172.17.255.255 scope global eth0\n"},
	} {
		if got := string(withoutOperState([]byte(tc.in))); got != tc.want {
			t.Errorf("withoutOperState(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
