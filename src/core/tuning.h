/* tuning.h: a communicator's cost model: the α-β constants every algorithm's estimate reads,
 * and what "auto" measured on this communicator. */
#ifndef CCL_TUNING_H
#define CCL_TUNING_H

#define CCL_AUTO_POINTS 3

typedef struct ccl_tuning {
    double alpha_us;           /* per message */
    double beta_us_per_byte;   /* per byte on the link */
    double reduce_us_per_byte; /* per byte reduced */
    /* A communicator with a hierarchy (comm.h): its hosts and the most ranks of one, and the
     * measured links: beta_us_per_byte is then the links between hosts, this one shared
     * memory inside a host. hier_hosts is 0 without a hierarchy. */
    int    hier_hosts, hier_local;
    double beta_local_us_per_byte;
    /* "auto" compression's measurements, identical on every rank (compressed/auto.c): the
     * exact (0) and compressed (1) allreduce took us[m][k] microseconds for bytes[k];
     * *_scale correct the model from what calls took. */
    struct {
        int    done;
        double bytes[CCL_AUTO_POINTS], us[2][CCL_AUTO_POINTS];
        double exact_scale, comp_scale;
        double obs[2], pred[2]; /* this rank's observed and predicted time, per method */
    } measured;
} ccl_tuning_t;

/* What a new communicator starts from, and what the info tool's tables use. */
extern const ccl_tuning_t ccl_tuning_default;

#endif
