//! The web console: a page and its scripts served by the binary, calling the same API (through
//! the same gate) as every other client.
//!
//! Plain ES modules and one stylesheet, checked in and embedded with `include_str!`: no build
//! step, no package registry at build time, no CDN at run time, and every byte it runs is in this
//! repository to review. The session lives in HttpOnly cookies (see `gate::session_cookie`).

pub mod api;
pub mod assets;
