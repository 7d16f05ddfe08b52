//go:build !linux

package analysis

// RouteReason needs Linux's routing tables; elsewhere it says so.
func RouteReason(Conversation) string { return "route unknown: route lookups need Linux" }

// FillReasons sets Reason on each conversation, as RouteReason says it.
func FillReasons(convs []Conversation) {
	for i := range convs {
		convs[i].Reason = RouteReason(convs[i])
	}
}

// WrongSourceReason needs Linux's routing tables; elsewhere it says so.
func WrongSourceReason(WrongSource) string { return "route unknown: route lookups need Linux" }

// FillWrongSourceReasons sets Reason on each wrong-source conversation, as
// WrongSourceReason says it.
func FillWrongSourceReasons(ws []WrongSource) {
	for i := range ws {
		ws[i].Reason = WrongSourceReason(ws[i])
	}
}
