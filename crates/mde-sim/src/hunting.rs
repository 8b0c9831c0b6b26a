//! Advanced hunting (filled in below).

use crate::server::auth::Caller;
use crate::server::{Ctx, Reply};

pub(crate) fn legacy_endpoint(_ctx: &Ctx<'_>, _caller: &Caller) -> Reply {
    Reply::mde_error(501, "NotImplemented", "not yet")
}
pub(crate) fn graph_endpoint(_ctx: &mut Ctx<'_>) -> Reply {
    Reply::mde_error(501, "NotImplemented", "not yet")
}
