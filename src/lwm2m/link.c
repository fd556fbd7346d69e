/* placeholder until the module lands */
typedef int kdc_placeholder_t;
