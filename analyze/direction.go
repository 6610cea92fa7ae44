package analyze

// Direction is one way of a flow: the data one endpoint sends, held by the
// windows the other advertises (scaled by the receiver's shift, RFC 7323
// §2.3). Values 0 and 1 index per-direction arrays.
type Direction uint8

// Values of Direction.
const (
	ClientToServer Direction = iota // data the client sends; windows the server advertises
	ServerToClient                  // data the server sends; windows the client advertises
	// BothDirections is the flow as a whole, for what concerns no one way
	// (a finding about the handshake).
	BothDirections
)

// Directions are a flow's two ways, in index order, for loops.
var Directions = [2]Direction{ClientToServer, ServerToClient}

func (d Direction) String() string {
	switch d {
	case ClientToServer:
		return "client-to-server"
	case ServerToClient:
		return "server-to-client"
	}
	return "both"
}

// Reverse returns the other way of the flow (BothDirections stays).
func (d Direction) Reverse() Direction {
	switch d {
	case ClientToServer:
		return ServerToClient
	case ServerToClient:
		return ClientToServer
	}
	return d
}

// Sender returns the endpoint of f that sends direction d (the client for
// BothDirections).
func (f *Flow) Sender(d Direction) *Endpoint {
	if d == ServerToClient {
		return &f.Server
	}
	return &f.Client
}
