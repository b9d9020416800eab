//! Autoscaling of in-process replicas (worker slots) between a deployment's min and max, from
//! the mean busy workers and mean queue depth over each autoscaler interval.

/// Ticks with idle capacity before one replica is retired, so a short lull does not undo the
/// scale-up a burst needed.
pub const IDLE_TICKS_BEFORE_SCALE_DOWN: u32 = 10;

/// Share of its workers' time a version must spend running batches, with requests waiting,
/// before it gets another replica.
const SCALE_UP_BUSY_SHARE: f64 = 0.8;

/// Mean requests waiting that count as "requests wait": half a request, so that an occasional
/// arrival that found every worker busy does not count, but a steady queue does.
const WAITING: f64 = 0.5;

/// Share of one fewer replica the load must fit in for a tick to count as idle.
const SCALE_DOWN_BUSY_SHARE: f64 = 0.5;

/// One version's load over the last autoscaler interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    pub replicas: usize,
    /// Mean workers running a batch.
    pub busy: f64,
    /// Mean requests waiting in the queue.
    pub queued: f64,
}

/// The replica count for the next tick and the updated idle-tick count: one more when the
/// workers were nearly always busy and requests waited; one fewer after a run of ticks whose
/// load would have fit in one replica fewer at half its capacity.
pub fn next_replicas(load: Load, min: usize, max: usize, idle_ticks: u32) -> (usize, u32) {
    if load.replicas < min || load.replicas > max {
        return (load.replicas.clamp(min, max), 0);
    }
    let replicas = load.replicas as f64;
    let saturated = load.busy >= SCALE_UP_BUSY_SHARE * replicas && load.queued >= WAITING;
    if saturated && load.replicas < max {
        return (load.replicas + 1, 0);
    }
    let spare = load.queued < WAITING && load.busy <= SCALE_DOWN_BUSY_SHARE * (replicas - 1.0);
    if !spare || load.replicas == min {
        return (load.replicas, 0);
    }
    if idle_ticks + 1 >= IDLE_TICKS_BEFORE_SCALE_DOWN {
        (load.replicas - 1, 0)
    } else {
        (load.replicas, idle_ticks + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(replicas: usize, busy: f64, queued: f64) -> Load {
        Load {
            replicas,
            busy,
            queued,
        }
    }

    #[test]
    fn scales_up_when_workers_were_busy_and_requests_waited() {
        assert_eq!(next_replicas(load(1, 0.95, 5.0), 1, 4, 0), (2, 0));
        assert_eq!(next_replicas(load(4, 4.0, 50.0), 1, 4, 0), (4, 0), "at max");
        assert_eq!(
            next_replicas(load(2, 1.2, 5.0), 1, 4, 3),
            (2, 0),
            "workers were free 40% of the time: the wait is batching, not a shortage"
        );
        assert_eq!(
            next_replicas(load(2, 1.9, 0.1), 1, 4, 3),
            (2, 0),
            "busy, but nobody waited"
        );
    }

    #[test]
    fn scales_down_after_a_run_of_idle_ticks() {
        let mut replicas = 3;
        let mut idle = 0;
        for _ in 0..IDLE_TICKS_BEFORE_SCALE_DOWN - 1 {
            (replicas, idle) = next_replicas(load(replicas, 0.2, 0.0), 1, 4, idle);
            assert_eq!(replicas, 3);
        }
        (replicas, idle) = next_replicas(load(replicas, 0.2, 0.0), 1, 4, idle);
        assert_eq!((replicas, idle), (2, 0));
        assert_eq!(
            next_replicas(load(2, 0.8, 0.0), 1, 4, 5),
            (2, 0),
            "the load would not fit in one replica at half its capacity"
        );
        assert_eq!(
            next_replicas(load(1, 0.0, 0.0), 1, 4, 100),
            (1, 0),
            "never below min"
        );
    }

    #[test]
    fn settings_changes_are_applied() {
        assert_eq!(next_replicas(load(6, 0.0, 0.0), 1, 4, 0), (4, 0));
        assert_eq!(next_replicas(load(1, 1.0, 0.0), 2, 4, 0), (2, 0));
    }
}
