-- Source asset code -> master device.
select
    d.source_id,
    d.device_code,
    {{ surrogate_id([device_master_key('d')]) }} as master_device_id,
    case when d.serial_no is not null then 'manufacturer + serial_no' else 'source_key' end as match_rule,
    d._source_file, d._row_number
from {{ ref('int_devices') }} d
