//! Autoscaling of in-process replicas (worker slots) between a deployment's min and max, from
//! queue depth and busy workers.

/// Ticks with idle capacity before one replica is retired, so a short lull does not undo the
/// scale-up a burst needed.
pub const IDLE_TICKS_BEFORE_SCALE_DOWN: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    pub replicas: usize,
    pub busy: usize,
    pub queued: usize,
}

/// The replica count for the next tick and the updated idle-tick count: one more when every
/// worker is busy and requests wait; one fewer after a run of ticks with a worker to spare and
/// nothing queued.
pub fn next_replicas(load: Load, min: usize, max: usize, idle_ticks: u32) -> (usize, u32) {
    if load.replicas < min || load.replicas > max {
        return (load.replicas.clamp(min, max), 0);
    }
    let saturated = load.queued > 0 && load.busy >= load.replicas;
    if saturated && load.replicas < max {
        return (load.replicas + 1, 0);
    }
    let spare = load.queued == 0 && load.busy < load.replicas;
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

    fn load(replicas: usize, busy: usize, queued: usize) -> Load {
        Load {
            replicas,
            busy,
            queued,
        }
    }

    #[test]
    fn scales_up_when_saturated_and_not_past_max() {
        assert_eq!(next_replicas(load(1, 1, 5), 1, 4, 0), (2, 0));
        assert_eq!(next_replicas(load(4, 4, 50), 1, 4, 0), (4, 0));
        assert_eq!(
            next_replicas(load(2, 1, 5), 1, 4, 3),
            (2, 0),
            "a worker is free"
        );
    }

    #[test]
    fn scales_down_after_a_run_of_idle_ticks() {
        let mut replicas = 3;
        let mut idle = 0;
        for _ in 0..IDLE_TICKS_BEFORE_SCALE_DOWN - 1 {
            (replicas, idle) = next_replicas(load(replicas, 0, 0), 1, 4, idle);
            assert_eq!(replicas, 3);
        }
        (replicas, idle) = next_replicas(load(replicas, 0, 0), 1, 4, idle);
        assert_eq!((replicas, idle), (2, 0));
        assert_eq!(
            next_replicas(load(1, 0, 0), 1, 4, 100),
            (1, 0),
            "never below min"
        );
    }

    #[test]
    fn settings_changes_are_applied() {
        assert_eq!(next_replicas(load(6, 0, 0), 1, 4, 0), (4, 0));
        assert_eq!(next_replicas(load(1, 1, 0), 2, 4, 0), (2, 0));
    }
}
