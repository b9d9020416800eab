//! Which running jobs a pending job may displace, and the fewest that make room for it.
//!
//! A victim must be in the preemptor's cohort and have run the policy's minimum runtime (or
//! have been admitted earlier in the same pass: withdrawing that admission wastes nothing), and:
//! - in the same queue, have strictly lower priority; or
//! - in another queue, hold quota its queue borrows, of a resource the preemptor needs, and
//!   - the preemptor fits within its own queue's nominal quota (reclaim), or
//!   - with fair sharing, its queue's share, as victims are taken, is still strictly above the
//!     preemptor queue's share with the preemptor (Kueue's LessThanInitialShare, re-evaluated
//!     after each victim, so a queue is never cut below the preemptor's share).
//!
//! Candidates are tried not-yet-started first, then borrowers, then lowest priority, then most
//! recently admitted, until the preemptor fits (and, when it reclaims, its own queue is back
//! within nominal quota). Then victims are put back, last chosen first and repeatedly, while
//! the plan stays valid without them. What remains is a set from which no victim can be spared.

use std::cmp::Reverse;

use super::{
    charge, fit_flavor, placements, release, Ask, Fitted, Held, NodeBook, Pass, Placement,
    QuotaBook, Workload,
};

/// An index into the pass's held jobs, and why that job may be preempted.
type Candidate = (usize, String);

pub(super) struct Plan {
    pub victims: Vec<Candidate>,
    pub fitted: Fitted,
    pub placements: Vec<Placement>,
}

#[derive(Clone, Copy, PartialEq)]
enum Ground {
    LowerPriority,
    Reclaim,
    FairShare,
}

pub(super) fn plan(pass: &Pass, preemptor: &Workload, ask: &Ask, queue: usize) -> Option<Plan> {
    if !pass.config.policy.preemption {
        return None;
    }
    pass.book
        .choices(ask, queue)
        .find_map(|flavor| plan_for_flavor(pass, preemptor, ask, queue, flavor))
}

fn plan_for_flavor(
    pass: &Pass,
    preemptor: &Workload,
    ask: &Ask,
    queue: usize,
    flavor: Option<usize>,
) -> Option<Plan> {
    let policy = &pass.config.policy;
    let book = &pass.book;
    let cohort = book.cohort_of(queue);
    let total = ask.demand(flavor);
    let preemptible = |h: &Held| {
        !h.released
            && book.cohort_of(h.queue) == cohort
            && (h.fresh() || h.admitted_at + policy.min_runtime_ms <= pass.now)
            && (h.queue != queue || h.workload.priority < preemptor.priority)
    };
    // Reclaim applies when the preemptor fits its queue's nominal quota next to the jobs of its
    // queue it may not displace.
    let mut kept = vec![0u64; book.dims().len()];
    let held_here = pass
        .held
        .iter()
        .filter(|h| h.queue == queue && !h.released && !preemptible(h));
    for &(resource, amount) in total.iter().chain(held_here.flat_map(|h| &h.usage)) {
        kept[resource] = kept[resource].saturating_add(amount);
    }
    let kept = kept.into_iter().enumerate().filter(|(_, a)| *a > 0);
    let reclaim = book.fits_nominal(queue, kept);

    // (held job, ground, whether its queue borrows what the preemptor needs)
    let mut candidates: Vec<(usize, Ground, bool)> = pass
        .held
        .iter()
        .enumerate()
        .filter(|(_, h)| preemptible(h))
        .filter_map(|(index, h)| {
            let borrows = book.is_borrowing(h.queue, &h.usage, &total);
            let ground = if h.queue == queue {
                Ground::LowerPriority
            } else if !borrows {
                return None;
            } else if reclaim {
                Ground::Reclaim
            } else if policy.fair_sharing {
                Ground::FairShare
            } else {
                return None;
            };
            Some((index, ground, borrows))
        })
        .collect();
    candidates.sort_by_key(|(index, _, borrows)| {
        let h = &pass.held[*index];
        (
            !h.fresh(),
            !borrows,
            h.workload.priority,
            Reverse(h.admitted_at),
            Reverse(h.workload.submitted_at),
            h.workload.id.as_str(),
        )
    });

    // A plan is valid when the preemptor fits and, if it reclaims from another queue, its own
    // queue then stays within nominal quota: reclaiming is a queue's claim to its own share,
    // never a way to borrow.
    let valid = |trial: &QuotaBook, nodes: Option<&NodeBook>, chosen: &[(usize, Ground)]| {
        let reclaims = chosen.iter().any(|(_, g)| *g == Ground::Reclaim);
        if reclaims && !trial.within_nominal(queue, &total) {
            return None;
        }
        let fitted = fit_flavor(trial, nodes, ask, queue, flavor)?;
        let placements = placements(nodes, ask, &fitted);
        Some((fitted, placements))
    };
    let mut trial = book.clone();
    let mut trial_nodes = pass.nodes.clone();
    let mut chosen: Vec<(usize, Ground)> = Vec::new();
    let mut fitted = None;
    let mut reasons = Vec::new();
    for (index, ground, _) in candidates {
        let h = &pass.held[index];
        let victim_queue = &pass.config.queues[h.queue].name;
        let reason = match ground {
            Ground::LowerPriority => format!(
                "preempted by job {} of higher priority ({} > {})",
                preemptor.id, preemptor.priority, h.workload.priority
            ),
            Ground::Reclaim => format!(
                "queue {} reclaims its nominal quota from queue {victim_queue}, which borrows \
                 it, for job {}",
                pass.config.queues[queue].name, preemptor.id
            ),
            Ground::FairShare => {
                let preemptor_share = trial.share_with(queue, &total);
                let victim_share = trial.share(h.queue);
                if victim_share <= preemptor_share {
                    continue;
                }
                format!(
                    "fair sharing: queue {victim_queue} holds share {victim_share:.3}, above \
                     queue {}'s {preemptor_share:.3} with job {}",
                    pass.config.queues[queue].name, preemptor.id
                )
            }
        };
        release(&mut trial, trial_nodes.as_mut(), h);
        chosen.push((index, ground));
        reasons.push((index, reason));
        fitted = valid(&trial, trial_nodes.as_ref(), &chosen);
        if fitted.is_some() {
            break;
        }
    }
    let (mut fitted, mut placements) = fitted?;
    // Sparing one victim can end the reclaim and so let another be spared: repeat until no
    // victim can be spared.
    let mut spared_any = true;
    while spared_any {
        spared_any = false;
        for i in (0..chosen.len()).rev() {
            let candidate = chosen.remove(i);
            charge(&mut trial, trial_nodes.as_mut(), &pass.held[candidate.0]);
            match valid(&trial, trial_nodes.as_ref(), &chosen) {
                Some(fits) => {
                    (fitted, placements) = fits;
                    spared_any = true;
                }
                None => {
                    release(&mut trial, trial_nodes.as_mut(), &pass.held[candidate.0]);
                    chosen.insert(i, candidate);
                }
            }
        }
    }
    let victims = chosen
        .into_iter()
        .filter_map(|(index, _)| reasons.iter().find(|(i, _)| *i == index).cloned())
        .collect();
    Some(Plan {
        victims,
        fitted,
        placements,
    })
}
