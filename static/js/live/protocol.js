// Generated from live/protocol.py by `manage.py live_protocol_js`: do not edit by hand.
export const Close = Object.freeze({
  NORMAL: 1000,
  POLICY_VIOLATION: 4008,
  TOO_SLOW: 4011,
  TRY_AGAIN_LATER: 4013,
  NOT_FOUND: 4404,
  TOO_MANY_SOCKETS: 4429,
});
export const Frame = Object.freeze({
  HELLO: "hello",
  EVENT: "event",
  PING: "ping",
  ERROR: "error",
});
export const BLOG_ARCHIVED = "blog.archived";
