//! Vulnerability endpoints (filled in below).

use super::{Ctx, Reply};

pub(crate) fn catalog(_ctx: &Ctx<'_>) -> Reply {
    Reply::mde_error(501, "NotImplemented", "not yet")
}
pub(crate) fn machines_vulnerabilities(_ctx: &Ctx<'_>) -> Reply {
    Reply::mde_error(501, "NotImplemented", "not yet")
}
pub(crate) fn of_machine(_ctx: &Ctx<'_>, _id: &str) -> Reply {
    Reply::mde_error(501, "NotImplemented", "not yet")
}
pub(crate) fn export(_ctx: &Ctx<'_>) -> Reply {
    Reply::mde_error(501, "NotImplemented", "not yet")
}
pub(crate) fn delta_export(_ctx: &Ctx<'_>) -> Reply {
    Reply::mde_error(501, "NotImplemented", "not yet")
}
