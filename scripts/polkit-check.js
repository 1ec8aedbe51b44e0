// Checks a polkit .rules file the way polkitd runs it: loads it with a fake
// `polkit` object, then asks every registered rule about actions and subjects.
// Usage: node scripts/polkit-check.js Config/polkit/50-vigie.rules [login1.policy]
// Prints one line per check and "N passed, N failed"; exits 1 on a failure.
"use strict";
const fs = require("fs");
const vm = require("vm");

const [rulesPath, policyPath] = process.argv.slice(2);
const source = fs.readFileSync(rulesPath, "utf8");
const rules = [];
const Result = { NO: "no", YES: "yes", AUTH_SELF: "auth_self", AUTH_SELF_KEEP: "auth_self_keep",
                 AUTH_ADMIN: "auth_admin", AUTH_ADMIN_KEEP: "auth_admin_keep", NOT_HANDLED: null };
const polkit = {
    Result,
    addRule(f) { rules.push(f); },
    addAdminRule() {},
    log() {},
    spawn() { throw new Error("the rules must not spawn programs"); },
};
// polkitd (duktape, ES5) runs rules in a fresh global with `polkit` only.
vm.runInNewContext(source, { polkit }, { filename: rulesPath });

function decide(actionID, user, extra) {
    const action = { id: actionID, lookup() { return undefined; } };
    const subject = Object.assign({ user, pid: 4242, groups: [user], seat: undefined, session: undefined,
                                    local: false, active: false, isInGroup(g) { return this.groups.includes(g); },
                                    isInNetGroup() { return false; } }, extra || {});
    for (const rule of rules) {
        const r = rule(action, subject);
        if (r !== null && r !== undefined) return r;
    }
    return null;
}

let passed = 0, failed = 0;
function check(what, got, want) {
    if (got === want) { passed++; console.log("ok    " + what); }
    else { failed++; console.log("FAIL  " + what + ": got " + got + ", want " + want); }
}

const granted = [
    "org.freedesktop.login1.power-off", "org.freedesktop.login1.power-off-multiple-sessions",
    "org.freedesktop.login1.power-off-ignore-inhibit", "org.freedesktop.login1.reboot",
    "org.freedesktop.login1.reboot-multiple-sessions", "org.freedesktop.login1.reboot-ignore-inhibit",
    "org.freedesktop.login1.manage",
];
const notGranted = [
    "org.freedesktop.login1.halt", "org.freedesktop.login1.suspend", "org.freedesktop.login1.hibernate",
    "org.freedesktop.login1.set-user-linger", "org.freedesktop.login1.set-wall-message",
    "org.freedesktop.systemd1.manage-units", "org.freedesktop.packagekit.package-install",
    "org.freedesktop.policykit.exec",
];
check("at least one rule registered", rules.length > 0, true);
for (const id of granted) {
    check("vigie " + id + " → yes", decide(id, "vigie"), "yes");
    check("pupil " + id + " → not handled", decide(id, "eleve1", { local: true, active: true, seat: "seat0" }), null);
    check("root " + id + " → not handled", decide(id, "root"), null);
    check("vigie-like name " + id + " → not handled", decide(id, "vigie2"), null);
}
for (const id of notGranted) {
    check("vigie " + id + " → not handled", decide(id, "vigie"), null);
}
// Every granted id must be a real logind action (from the installed policy, when given).
if (policyPath && fs.existsSync(policyPath)) {
    const policy = fs.readFileSync(policyPath, "utf8");
    const ruleIDs = source.match(/"org\.freedesktop\.login1\.[a-z-]+"/g) || [];
    for (const quoted of ruleIDs) {
        check("action " + quoted + " exists in " + policyPath, policy.includes("id=" + quoted), true);
    }
}
console.log(passed + " passed, " + failed + " failed");
process.exit(failed === 0 ? 0 : 1);
