package netctl

import (
	"fmt"
	"strings"
)

// Commands renders what a step does as the shell commands a person would type
// (iproute2 and sysctl), for --dry-run.
func (s Step) Commands(host, ctr NSView) []string {
	v := ctr
	if s.NS == InHost {
		v = host
	}
	switch s.Kind {
	case StepVeth:
		peer := "name " + s.Peer + fmt.Sprintf(" mtu %d", s.MTU)
		if s.MAC != "" {
			peer += " address " + s.MAC
		}
		return []string{
			v.IP("link add name %s mtu %d type veth peer %s netns %s", s.Link, s.MTU, peer, ctr.NetnsArg()),
			v.IP("link set %s alias %s", s.Link, s.Alias),
		}
	case StepAddr:
		extra := ""
		if s.Address.Addr().Is4() {
			extra = " brd +"
		}
		return []string{v.IP("addr add %s%s dev %s", s.Address, extra, s.Link)}
	case StepSysctl:
		return []string{v.Sysctl(s.Key, s.Value)}
	case StepLinkUp:
		return []string{v.IP("link set %s up", s.Link)}
	case StepHostPort:
		return []string{v.IP("link set %s master %s", s.Link, s.Bridge), v.IP("link set %s up", s.Link)}
	case StepWaitDAD:
		return []string{"# wait until " + s.Link + "'s IPv6 addresses leave the tentative state (DAD)"}
	case StepRouteDel:
		return []string{v.IP("route del %s", s.Route)}
	case StepRouteAdd:
		return []string{v.IP("route add %s", s.Route)}
	case StepRuleAdd:
		return []string{v.IP("%srule add %s", family(s.Rule.Src.Addr().Is6()), s.Rule)}
	}
	return []string{"# unknown step " + s.Kind}
}

// UndoCommands renders a step's undo.
func (s Step) UndoCommands(host, ctr NSView) []string {
	v := ctr
	if s.NS == InHost {
		v = host
	}
	switch s.Kind {
	case StepVeth:
		return []string{v.IP("link del %s", s.Link)}
	case StepAddr:
		return []string{v.IP("addr del %s dev %s", s.Address, s.Link)}
	case StepSysctl:
		return []string{v.Sysctl(s.Key, s.Old)}
	case StepLinkUp:
		return []string{v.IP("link set %s down", s.Link)}
	case StepHostPort:
		return []string{v.IP("link set %s nomaster", s.Link)}
	case StepWaitDAD:
		return nil
	case StepRouteDel:
		return []string{v.IP("route add %s", s.Route)}
	case StepRouteAdd:
		return []string{v.IP("route del %s", s.Route)}
	case StepRuleAdd:
		return []string{v.IP("%srule del %s", family(s.Rule.Src.Addr().Is6()), s.Rule)}
	}
	return nil
}

func family(v6 bool) string {
	if v6 {
		return "-6 "
	}
	return ""
}

// Script renders a whole plan, or its undo in reverse order.
func (p Plan) Script(host, ctr NSView, undo bool) string {
	var b strings.Builder
	if !undo {
		for _, s := range p.Steps {
			for _, c := range s.Commands(host, ctr) {
				b.WriteString(c + "\n")
			}
		}
		return b.String()
	}
	for _, i := range UndoSteps(p.Steps) {
		for _, c := range p.Steps[i].UndoCommands(host, ctr) {
			b.WriteString(c + "\n")
		}
	}
	return b.String()
}
