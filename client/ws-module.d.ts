// What client/transport.ts needs to know of the `ws` package when the SDK is typechecked alone
// (client/tsconfig.json maps 'ws' here): nothing but that it exists. @types/ws references Node's types, and
// letting them in would hide a Buffer or a NodeJS.Timeout in browser code. The transport describes the
// WebSocket subset it uses itself (WebSocketLike). The build (root tsconfig.json) still uses @types/ws.
declare const WebSocket: unknown;
export default WebSocket;
